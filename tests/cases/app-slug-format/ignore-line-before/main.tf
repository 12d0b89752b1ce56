resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "a" {
  agent_id = coder_agent.main.id
  # templater:ignore app-slug-format
  slug     = "Ignored_A"
}

resource "coder_app" "b" {
  agent_id = coder_agent.main.id
  slug     = "Reported_B"
}
