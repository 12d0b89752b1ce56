variable "agent_id" {
  type = string
}

variable "health_url" {
  type    = string
  default = "http://localhost:13337/healthz"
}

resource "coder_app" "web" {
  agent_id = var.agent_id
  slug     = "web"
  url      = "http://localhost:13337"

  healthcheck {
    url       = var.health_url
    interval  = 5
    threshold = 3
  }
}
