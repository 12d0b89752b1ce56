variable "agent_id" {
  type = string
}

variable "port" {
  type    = number
  default = 8080
}

resource "coder_app" "web" {
  agent_id = var.agent_id
  slug     = "web"
  url      = "http://localhost:${var.port}"
}
