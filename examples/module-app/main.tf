# A template whose web app comes from a local module, configured through its inputs.
terraform {
  required_providers {
    coder = {
      source = "coder/coder"
    }
  }
}

variable "app_port" {
  type    = number
  default = 8080
}

variable "share" {
  type    = string
  default = "authenticated"
}

resource "coder_agent" "dev" {
  arch = "amd64"
  os   = "linux"
}

module "dashboard" {
  source   = "./modules/web-app"
  agent_id = coder_agent.dev.id
  slug     = "dashboard"
  port     = var.app_port
  share    = var.share
}

output "dashboard_url" {
  value = module.dashboard.url
}
