terraform {
  required_providers {
    coder = {
      source  = "registry.terraform.io/coder/coder"
      version = "~> 0.12"
    }
  }
}

resource "coder_agent" "dev" {
  os = "linux"
}

module "notebook" {
  source   = "./notebook"
  agent_id = coder_agent.dev.id
}
