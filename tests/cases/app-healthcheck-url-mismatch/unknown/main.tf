resource "coder_agent" "main" {
  os = "linux"
}

variable "port" {
  type = number
}

resource "coder_app" "a" {
  agent_id = coder_agent.main.id
  slug     = "a"
  url      = "http://localhost:8080"

  healthcheck {
    url       = "http://localhost:${var.port}/healthz"
    interval  = 5
    threshold = 3
  }
}

resource "coder_app" "b" {
  agent_id = coder_agent.main.id
  slug     = "b"
  url      = "http://localhost:${var.port}"

  healthcheck {
    url       = "http://localhost:8080/healthz"
    interval  = 5
    threshold = 3
  }
}
