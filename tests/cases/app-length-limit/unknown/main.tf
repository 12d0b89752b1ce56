resource "coder_agent" "main" {
  os = "linux"
}

data "coder_workspace" "me" {}

resource "coder_app" "code" {
  agent_id     = coder_agent.main.id
  slug         = "code"
  display_name = "Code Server with every extension the team uses, preinstalled ok! in ${data.coder_workspace.me.name}"
}
