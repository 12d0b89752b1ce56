variable "agent_id" {
  type = string
}

variable "group" {
  type    = string
  default = null
}

resource "coder_app" "code" {
  agent_id = var.agent_id
  slug     = "code"
  group    = var.group
}
