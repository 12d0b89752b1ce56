resource "coder_agent" "main" {
  os = "linux"
}

variable "name" {
  type = string
}

resource "docker_container" "box" {
  image = "ubuntu"
}

locals {
  upper = upper(var.name)
  parts = split("-", docker_container.box.name)
  first = local.parts[5]
  host  = docker_container.box.network_data[0].ip_address
}

resource "coder_app" "web" {
  agent_id = coder_agent.main.id
  slug     = lower(var.name)
  url      = "http://${local.host}:${length(local.parts)}"
}
