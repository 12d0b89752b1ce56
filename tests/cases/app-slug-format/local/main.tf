resource "coder_agent" "main" {
  os = "linux"
}

locals {
  slug = "Code Server"
}

resource "coder_app" "code" {
  agent_id = coder_agent.main.id
  slug     = local.slug
}
