resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "app" {
  count    = 2
  agent_id = coder_agent.main.id
  slug     = var.slug
}
