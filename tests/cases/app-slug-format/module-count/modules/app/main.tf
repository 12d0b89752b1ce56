variable "agent_id" {
  type = string
}

resource "coder_app" "app" {
  agent_id = var.agent_id
  slug     = "My_App"
}
