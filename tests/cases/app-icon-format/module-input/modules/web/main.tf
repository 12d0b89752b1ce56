variable "agent_id" {
  type = string
}

variable "icon" {
  type    = string
  default = "/icon/code.svg"
}

resource "coder_app" "web" {
  agent_id = var.agent_id
  slug     = "web"
  icon     = var.icon
}
