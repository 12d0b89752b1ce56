resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "tool" {
  count        = 3
  agent_id     = coder_agent.main.id
  slug         = "tool-${count.index}"
  hidden       = count.index < 2
  display_name = "Tool"
}
