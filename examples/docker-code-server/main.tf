# A Docker workspace with code-server, reached on its own subdomain.
terraform {
  required_providers {
    coder = {
      source = "coder/coder"
    }
    docker = {
      source = "kreuzwerker/docker"
    }
  }
}

variable "docker_image" {
  description = "Image the workspace container runs."
  type        = string
  default     = "codercom/enterprise-base:ubuntu"
}

variable "code_server_port" {
  description = "Port code-server listens on inside the workspace."
  type        = number
  default     = 13337

  validation {
    condition     = var.code_server_port >= 1024 && var.code_server_port <= 65535
    error_message = "code_server_port must be an unprivileged port (1024-65535)."
  }
}

data "coder_workspace" "me" {}
data "coder_workspace_owner" "me" {}

locals {
  username  = data.coder_workspace_owner.me.name
  home      = "/home/${local.username}"
  code_url  = "http://localhost:${var.code_server_port}"
  container = "coder-${data.coder_workspace_owner.me.name}-${lower(data.coder_workspace.me.name)}"
}

resource "coder_agent" "main" {
  arch = "amd64"
  os   = "linux"
  dir  = local.home

  startup_script = <<-EOT
    set -e
    curl -fsSL https://code-server.dev/install.sh | sh -s -- --method=standalone
    code-server --auth none --port ${var.code_server_port} >/tmp/code-server.log 2>&1 &
  EOT
}

resource "coder_app" "code-server" {
  agent_id     = coder_agent.main.id
  slug         = "code-server"
  display_name = "code-server"
  icon         = "/icon/code.svg"
  url          = "${local.code_url}/?folder=${local.home}"
  subdomain    = true
  share        = "owner"

  healthcheck {
    url       = "${local.code_url}/healthz"
    interval  = 5
    threshold = 6
  }
}

resource "coder_app" "docs" {
  agent_id     = coder_agent.main.id
  slug         = "docs"
  display_name = "Documentation"
  icon         = "/icon/book.svg"
  url          = "https://coder.com/docs"
  external     = true
}

resource "docker_container" "workspace" {
  count    = data.coder_workspace.me.start_count
  image    = var.docker_image
  name     = local.container
  hostname = data.coder_workspace.me.name
  entrypoint = [
    "sh", "-c", replace(coder_agent.main.init_script, "/localhost|127\\.0\\.0\\.1/", "host.docker.internal"),
  ]
  env = ["CODER_AGENT_TOKEN=${coder_agent.main.token}"]
}
