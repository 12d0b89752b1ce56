terraform {
  required_providers {
    coder = {
      source  = "coder/coder"
      version = ">= 2.0"
    }
  }
}

resource "coder_agent" "dev" {
  os = "linux"
}

resource "coder_app" "lab" {
  agent_id = coder_agent.dev.id
  slug     = "lab"
  url      = "http://localhost:8888"
}
