resource "coder_agent" "main" {
  os = "linux"
}

locals {
  a = var.nope
  b = local.nope
  c = module.nope.id
  d = data.coder_workspace.nope.name
}

resource "coder_app" "web" {
  agent_id = coder_agent.dev.id
  slug     = "web"
}
