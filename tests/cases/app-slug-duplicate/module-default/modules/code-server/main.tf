variable "agent_id" {
  type = string
}

variable "slug" {
  type    = string
  default = "code-server"
}

resource "coder_app" "app" {
  agent_id = var.agent_id
  slug     = var.slug
}
