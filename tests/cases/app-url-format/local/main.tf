resource "coder_agent" "main" {
  os = "linux"
}

locals {
  url = "localhost:3000"
}

resource "coder_app" "web" {
  agent_id = coder_agent.main.id
  slug     = "web"
  url      = local.url
}
