resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "code" {
  agent_id = coder_agent.main.id
  slug     = "Code_Server"
}
