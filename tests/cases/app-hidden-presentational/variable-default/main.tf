resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "helper" {
  agent_id = coder_agent.main.id
  slug     = "helper"
  hidden   = var.hidden
  icon     = "/icon/code.svg"
}
