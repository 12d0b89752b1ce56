# A reusable web app: one coder_app with a healthcheck on the same port.
variable "agent_id" {
  type        = string
  description = "The coder_agent the app runs under."
}

variable "slug" {
  type = string
  validation {
    condition     = can(regex("^[a-z0-9](-?[a-z0-9])*$", var.slug))
    error_message = "slug must be lower-case letters and digits, joined by single hyphens."
  }
}

variable "port" {
  type = number
}

variable "share" {
  type    = string
  default = "owner"
}

variable "healthcheck_interval" {
  type    = number
  default = 10
}

locals {
  base_url = "http://localhost:${var.port}"
}

resource "coder_app" "web" {
  agent_id     = var.agent_id
  slug         = var.slug
  display_name = title(replace(var.slug, "-", " "))
  url          = local.base_url
  subdomain    = true
  share        = var.share

  healthcheck {
    url       = "${local.base_url}/health"
    interval  = var.healthcheck_interval
    threshold = 3
  }
}

output "url" {
  value = local.base_url
}
