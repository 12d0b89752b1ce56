resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "web" {
  agent_id = coder_agent.main.id
  slug     = "web"
  url      = "http://localhost:8080"

  healtcheck {
    url = "http://localhost:8080/healthz"
  }
}

resource "coder_app" "api" {
  agent_id = coder_agent.main.id
  slug     = "api"
  url      = "http://localhost:8081"

  healthcheck {
    url       = "http://localhost:8081/healthz"
    interval  = 5
    threshold = 3
    timeout   = 2
  }
}
