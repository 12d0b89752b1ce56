resource "coder_agent" "main" {
  os = "linux"
}

# templater:ignore app-missing-attribute
resource "coder_app" "web" {
  agent_id = coder_agent.main.id
}
