resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "web" {
  agent_id = coder_agent.main.id
  slug     = "web"
  url      = "http://localhost:8080"

  healthcheck {
    url       = "http://localhost:8080/healthz"
    interval  = 0
    threshold = -1
  }
}

resource "coder_app" "api" {
  agent_id = coder_agent.main.id
  slug     = "api"
  url      = "http://localhost:8081"

  healthcheck {
    url       = "http://localhost:8081/healthz"
    interval  = "0"
    threshold = 1
  }
}
