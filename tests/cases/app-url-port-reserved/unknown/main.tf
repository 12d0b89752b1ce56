resource "coder_agent" "main" {
  os = "linux"
}

variable "port" {
  type = number
}

resource "coder_app" "web" {
  agent_id = coder_agent.main.id
  slug     = "web"
  url      = "http://localhost:${var.port}"
}
