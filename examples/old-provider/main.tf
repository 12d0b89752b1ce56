# A template written for Coder provider 0.5 (October 2022), before coder_app had a slug:
# Coder takes the resource name as the slug, and `name` is what the dashboard shows.
# `templater rules app-missing-attribute` shows the release the slug came with.
terraform {
  required_providers {
    coder = {
      source  = "coder/coder"
      version = "~> 0.5.0" # 0.5.x only: the newest of them, 0.5.3, is the one linted for
    }
  }
}

data "coder_workspace" "me" {}

resource "coder_agent" "dev" {
  arch = "amd64"
  os   = "linux"

  startup_script = <<-EOT
    code-server --auth none --port 13337 >/tmp/code-server.log 2>&1 &
    jupyter lab --no-browser --port 8888 --ServerApp.base_url=/ >/tmp/jupyter.log 2>&1 &
  EOT
}

resource "coder_app" "code-server" {
  agent_id  = coder_agent.dev.id
  name      = "VS Code"
  icon      = "/icon/code.svg"
  url       = "http://localhost:13337/?folder=/home/coder"
  subdomain = false
  share     = "owner"

  healthcheck {
    url       = "http://localhost:13337/healthz"
    interval  = 5
    threshold = 6
  }
}

resource "coder_app" "jupyter" {
  agent_id  = coder_agent.dev.id
  name      = "JupyterLab"
  icon      = "/icon/jupyter.svg"
  url       = "http://localhost:8888/"
  subdomain = true
}

# A command app: before provider 2.14.0 a command may go with subdomain.
resource "coder_app" "htop" {
  agent_id  = coder_agent.dev.id
  name      = "htop"
  command   = "htop"
  subdomain = true
}
