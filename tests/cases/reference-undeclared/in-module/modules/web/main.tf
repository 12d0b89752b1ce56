variable "agent_id" {
  type = string
}

resource "coder_app" "web" {
  agent_id = var.agent_id
  slug     = var.slug
}
