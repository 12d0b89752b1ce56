resource "coder_agent" "main" {
  os = "linux"
}

variable "unset" {
  type = string
}

variable "unset_flag" {
  type = bool
}

resource "docker_container" "box" {
  image = "ubuntu"
}

resource "coder_app" "a" {
  agent_id = coder_agent.main.id
  slug     = var.unset
}

resource "coder_app" "b" {
  agent_id = coder_agent.main.id
  slug     = "B_${var.unset}"
}

resource "coder_app" "c" {
  agent_id = coder_agent.main.id
  slug     = var.unset_flag ? "Bad_One" : "Bad_Two"
}

resource "coder_app" "d" {
  agent_id = coder_agent.main.id
  slug     = docker_container.box.name
}
