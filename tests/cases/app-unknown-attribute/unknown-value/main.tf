resource "coder_agent" "main" {
  os = "linux"
}

variable "unset" {
  type = bool
}

resource "coder_app" "web" {
  agent_id = coder_agent.main.id
  slug     = "web"
  hiden    = var.unset
}
