variable "agent_id" {
  type = string
}

variable "slug" {
  type = string
}

resource "coder_app" "app" {
  agent_id = var.agent_id
  slug     = var.slug
}
