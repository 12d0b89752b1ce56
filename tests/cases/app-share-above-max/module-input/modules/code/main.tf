variable "agent_id" {
  type = string
}

variable "share" {
  type    = string
  default = "owner"
}

resource "coder_app" "code" {
  agent_id = var.agent_id
  slug     = "code"
  share    = var.share
}
