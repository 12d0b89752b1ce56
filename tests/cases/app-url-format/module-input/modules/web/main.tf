variable "agent_id" {
  type = string
}

variable "url" {
  type = string
}

resource "coder_app" "web" {
  agent_id = var.agent_id
  slug     = "web"
  url      = var.url
}
