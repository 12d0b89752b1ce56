resource "coder_agent" "main" {
  os = "linux"
}

variable "extra" {
  type = bool
}

resource "coder_app" "web" {
  agent_id = coder_agent.main.id
  slug     = "web"
  url      = "http://localhost:8080"

  healthcheck {
    url       = "http://localhost:8080/healthz"
    interval  = 5
    threshold = 3
  }

  dynamic "healthcheck" {
    for_each = var.extra ? [1] : []
    content {
      url       = "http://localhost:8080/ready"
      interval  = 5
      threshold = 3
    }
  }
}
