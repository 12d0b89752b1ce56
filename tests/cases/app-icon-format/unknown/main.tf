resource "coder_agent" "main" {
  os = "linux"
}

data "coder_workspace" "me" {}

resource "coder_app" "web" {
  agent_id = coder_agent.main.id
  slug     = "web"
  icon     = "${data.coder_workspace.me.access_url}icon/code.svg"
}
