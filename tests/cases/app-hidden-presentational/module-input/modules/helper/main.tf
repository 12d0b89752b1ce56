variable "agent_id" {
  type = string
}

variable "hidden" {
  type    = bool
  default = false
}

resource "coder_app" "helper" {
  agent_id     = var.agent_id
  slug         = "helper"
  hidden       = var.hidden
  display_name = "Helper"
}
