resource "coder_agent" "main" {
  os = "linux"
}

variable "agent_id" {
  type = string
}

variable "slug" {
  type = string
}

resource "coder_app" "web" {
  agent_id = var.agent_id
  slug     = var.slug
  url      = "http://localhost:8080"

  healthcheck {
    url       = "http://localhost:8080/healthz"
    interval  = var.slug == "" ? 5 : 10
    threshold = length(var.slug)
  }
}
