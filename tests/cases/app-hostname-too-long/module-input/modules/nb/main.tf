variable "agent_id" {
  type = string
}

variable "slug" {
  type = string
}

variable "subdomain" {
  type    = bool
  default = true
}

resource "coder_app" "nb" {
  agent_id  = var.agent_id
  slug      = var.slug
  url       = "http://localhost:8888"
  subdomain = var.subdomain
}
