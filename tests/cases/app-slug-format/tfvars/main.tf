resource "coder_agent" "main" {
  os = "linux"
}

variable "slug" {
  type    = string
  default = "code"
}

resource "coder_app" "code" {
  agent_id = coder_agent.main.id
  slug     = var.slug
}
