resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "web" {
  agent_id = coder_agent.main.id
  slug     = "web"
  url      = var.url
}
