resource "coder_agent" "main" {
  os = "linux"
}

variable "agent_id" {
  type    = string
  default = null
}

resource "coder_app" "web" {
  agent_id = var.agent_id
  slug     = "web"
}
