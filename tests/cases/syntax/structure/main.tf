resource "coder_agent" "main" {
  os = "linux"
  os = "linux"
}

resource "coder_app" {
  slug = "web"
}

module "tools" {
  agent_id = coder_agent.main.id
}
