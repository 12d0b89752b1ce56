resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "web" {
  agent_id = coder_agent.main.id
  slug     = "web"
  url      = "http://localhost:8080/app"

  healthcheck {
    url       = "http://localhost:9090/healthz"
    interval  = 5
    threshold = 3
  }
}

resource "coder_app" "api" {
  agent_id = coder_agent.main.id
  slug     = "api"
  url      = "http://localhost:3000"

  healthcheck {
    url       = "https://localhost:3000/healthz"
    interval  = 5
    threshold = 3
  }
}
