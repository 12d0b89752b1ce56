resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "a" {
  agent_id = coder_agent.main.id
  slug     = var.a # templater:ignore app-slug-format
}

resource "coder_app" "b" {
  agent_id = coder_agent.main.id
  slug     = var.b
}
