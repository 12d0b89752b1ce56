terraform {
  required_providers {
    coder = {
      source  = "coder/coder"
      version = ">= 2.5"
    }
  }
}

variable "agent_id" {
  type = string
}

resource "coder_app" "notebook" {
  agent_id = var.agent_id
  slug     = "notebook"
  url      = "http://localhost:8888"
}
