variable "agent_id" {
  type = string
}

variable "threshold" {
  type    = number
  default = 6
}

resource "coder_app" "web" {
  agent_id = var.agent_id
  slug     = "web"
  url      = "http://localhost:8080"

  healthcheck {
    url       = "http://localhost:8080/healthz"
    interval  = 5
    threshold = var.threshold
  }
}
