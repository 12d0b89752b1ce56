resource "coder_agent" "main" {
  count = 1
  os    = "linux"
}

resource "coder_agent" "each" {
  for_each = toset(["dev"])
  os       = "linux"
}

module "agent" {
  source = "./modules/agent"
}

module "app" {
  source   = "./modules/app"
  agent_id = coder_agent.main[0].id
}

resource "coder_app" "direct" {
  agent_id = coder_agent.main[0].id
  slug     = "direct"
}

resource "coder_app" "interpolated" {
  agent_id = "${coder_agent.each["dev"].id}"
  slug     = "interpolated"
}

resource "coder_app" "output" {
  agent_id = module.agent.id
  slug     = "output"
}

resource "coder_app" "local" {
  agent_id = local.agent
  slug     = "local"
}

locals {
  agent = coder_agent.main[0].id
}
