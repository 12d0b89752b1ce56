terraform {
  required_providers {
    coder = {
      source  = "coder/coder"
      version = "~> 0.5.0"
    }
  }
}

resource "coder_agent" "dev" {
  os = "linux"
}

resource "coder_app" "lab" {
  agent_id  = coder_agent.dev.id
  name      = "Lab"
  url       = "http://localhost:8888"
  subdomain = true
}
