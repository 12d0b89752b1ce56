terraform {
  required_providers {
    coder = {
      source  = "coder/coder"
      version = ">= 0.6, != 2.14.0, < 3"
    }
    docker = {
      source  = "kreuzwerker/docker"
      version = ">= 99"
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
