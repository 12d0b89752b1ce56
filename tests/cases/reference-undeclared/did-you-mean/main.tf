resource "coder_agent" "main" {
  os   = "linux"
  arch = "amd64"
}

variable "region" {
  default = "eu"
}

locals {
  a = var.regoin
  b = data.coder_workspace.mee.name
}

data "coder_workspace" "me" {}

resource "coder_app" "web" {
  agent_id = coder_agent.mian.id
  slug     = "web"
  share    = owner
}
