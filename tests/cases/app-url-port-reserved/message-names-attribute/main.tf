resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "web" {
  agent_id = var.agent_id
  slug     = "web"
  url      = var.url
}
