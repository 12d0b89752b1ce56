resource "coder_agent" "main" {
  os = "linux"
}

variable "check" {
  type = bool
}

resource "coder_app" "shell" {
  agent_id = coder_agent.main.id
  slug     = "shell"
  command  = "bash"

  dynamic "healthcheck" {
    for_each = var.check ? [1] : []
    content {
      url       = "http://localhost:8080/healthz"
      interval  = 5
      threshold = 3
    }
  }
}
