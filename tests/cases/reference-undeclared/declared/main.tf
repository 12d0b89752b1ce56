resource "coder_agent" "main" {
  os = "linux"
}

variable "settings" {
  type    = any
  default = {}
}

data "coder_workspace" "me" {}

module "web" {
  source   = "./modules/web"
  agent_id = coder_agent.main.id
}

locals {
  port  = try(var.settings.port, 8080)
  ws    = data.coder_workspace.me.name
  root  = path.module
  env   = terraform.workspace
  out   = module.web.slug
  agent = coder_agent.main.id
}

resource "coder_app" "counted" {
  count    = 2
  agent_id = local.agent
  slug     = "counted-${count.index}"
  url      = "http://localhost:${local.port + count.index}"
}

resource "coder_app" "each" {
  for_each = { a = 1 }
  agent_id = coder_agent.main.id
  slug     = "each-${each.key}-${each.value}"
}
