resource "coder_agent" "main" {
  os = "linux"
}

variable "host" {
  type = string
}

data "coder_workspace" "me" {}

resource "coder_app" "a" {
  agent_id = coder_agent.main.id
  slug     = "a"
  url      = "${var.host}:8080"
}

resource "coder_app" "b" {
  agent_id = coder_agent.main.id
  slug     = "b"
  url      = data.coder_workspace.me.access_url
}
