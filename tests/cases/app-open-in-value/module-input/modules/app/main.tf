variable "agent_id" {
  type = string
}

variable "open_in" {
  type    = string
  default = "slim-window"
}

resource "coder_app" "app" {
  agent_id = var.agent_id
  slug     = "app"
  open_in  = var.open_in
}
