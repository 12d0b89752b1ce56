resource "coder_agent" "main" {
  os = "linux"
}

variable "anything" {
  type = any
}

resource "coder_app" "web" {
  agent_id  = coder_agent.main.id
  slug      = "web"
  subdomain = var.anything
  order     = var.anything
}
