variable "agent_id" {
  type = string
}

variable "slug" {
  type    = string
  default = "web"
}

resource "coder_app" "web" {
  agent_id = var.agent_id
  slug     = var.slug
}
