resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "web" {
  agent_id = coder_agent.main.id
  slug     = "web"
  url      = "http://localhost:8080"

  healthcheck {
    url       = var.health_url
    interval  = 5
    threshold = 3
  }
}
