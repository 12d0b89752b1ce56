resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "noslug" {
  agent_id = coder_agent.main.id
}

resource "coder_app" "noagent" {
  slug = "noagent"
}
