resource "coder_agent" "main" {
  os = "linux"
}

variable "team" {
  type    = bool
  default = true
}

locals {
  share = var.team ? "team" : "owner"
}

resource "coder_app" "code" {
  agent_id = coder_agent.main.id
  slug     = "code"
  share    = local.share
}
