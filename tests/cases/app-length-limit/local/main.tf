resource "coder_agent" "main" {
  os = "linux"
}

locals {
  name = "Code Server with every extension the team uses, preinstalled ok!!"
}

resource "coder_app" "code" {
  agent_id     = coder_agent.main.id
  slug         = "code"
  display_name = local.name
}
