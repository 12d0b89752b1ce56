resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "notebook" {
  count    = 2
  agent_id = coder_agent.main.id
  slug     = "notebook"
}
