resource "coder_agent" "main" {
  os = "linux"
}

variable "checks" {
  type = list(string)
}

resource "coder_app" "web" {
  agent_id = coder_agent.main.id
  slug     = "web"
  url      = "http://localhost:8080"

  dynamic "healthcheck" {
    for_each = var.checks
    content {
      url       = "http://localhost:8080${healthcheck.value}"
      interval  = 5
      threshold = 3
    }
  }
}
