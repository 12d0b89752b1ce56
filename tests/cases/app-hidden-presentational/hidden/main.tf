resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "helper" {
  agent_id     = coder_agent.main.id
  slug         = "helper"
  hidden       = true
  display_name = "Helper"
  icon         = "/icon/code.svg"
  order        = 3
  group        = "tools"
}
