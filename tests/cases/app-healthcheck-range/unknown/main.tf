resource "coder_agent" "main" {
  os = "linux"
}

variable "interval" {
  type = number
}

resource "coder_app" "web" {
  agent_id = coder_agent.main.id
  slug     = "web"
  url      = "http://localhost:8080"

  healthcheck {
    url       = "http://localhost:8080/healthz"
    interval  = var.interval
    threshold = var.interval - 10
  }
}
