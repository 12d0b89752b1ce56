resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "lead" {
  agent_id = coder_agent.main.id
  slug     = "-app"
}

resource "coder_app" "trail" {
  agent_id = coder_agent.main.id
  slug     = "app-"
}

resource "coder_app" "double" {
  agent_id = coder_agent.main.id
  slug     = "my--app"
}

resource "coder_app" "empty" {
  agent_id = coder_agent.main.id
  slug     = ""
}
