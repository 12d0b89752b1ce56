variable "image" {
  description = "The container image"
}

variable "port" {
  default = 8080
}

variable "given" {}

resource "coder_agent" "main" {
  os   = "linux"
  arch = "amd64"
}

resource "coder_app" "web" {
  agent_id = coder_agent.main.id
  slug     = "web"
  url      = "http://localhost:${var.port}/${var.image}/${var.given}"
}
