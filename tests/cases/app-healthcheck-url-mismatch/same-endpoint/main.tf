resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "a" {
  agent_id = coder_agent.main.id
  slug     = "a"
  url      = "http://localhost:13337?folder=/home/coder"

  healthcheck {
    url       = "http://127.0.0.1:13337/healthz"
    interval  = 5
    threshold = 3
  }
}

resource "coder_app" "b" {
  agent_id = coder_agent.main.id
  slug     = "b"
  url      = "http://[::1]"

  healthcheck {
    url       = "HTTP://LOCALHOST:80/healthz"
    interval  = 5
    threshold = 3
  }
}
