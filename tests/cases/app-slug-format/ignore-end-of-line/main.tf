resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "a" {
  agent_id = coder_agent.main.id
  slug     = "Ignored_A" # templater:ignore app-slug-format
}

resource "coder_app" "b" {
  agent_id = coder_agent.main.id
  slug     = "Ignored_B" // templater:ignore app-share-value, app-slug-format
}

resource "coder_app" "c" {
  agent_id = coder_agent.main.id
  slug     = "Reported_C" # templater:ignore app-share-value
}
