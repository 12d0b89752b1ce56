variable "agent_id" {
  type = string
}

resource "coder_app" "code-server" {
  agent_id = var.agent_id
  slug     = "Code_Server"
}
