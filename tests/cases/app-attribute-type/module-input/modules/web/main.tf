variable "agent_id" {
  type = string
}

variable "order" {
  type    = any
  default = null
}

resource "coder_app" "web" {
  agent_id = var.agent_id
  slug     = "web"
  order    = var.order
}
