resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "code" {
  agent_id = coder_agent.main.id
  slug     = "code"
}

resource "coder_app" "code2" {
  agent_id = coder_agent.main.id
  slug     = "code"
}
