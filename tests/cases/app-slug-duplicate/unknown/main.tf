resource "coder_agent" "main" {
  os = "linux"
}

variable "unset" {
  type = string
}

variable "replicas" {
  type = number
}

resource "coder_app" "a" {
  agent_id = coder_agent.main.id
  slug     = "code"
}

resource "coder_app" "b" {
  agent_id = coder_agent.main.id
  slug     = var.unset
}

resource "coder_app" "c" {
  count    = var.replicas
  agent_id = coder_agent.main.id
  slug     = "notebook-${count.index}"
}

resource "coder_app" "d" {
  count    = var.replicas
  agent_id = coder_agent.main.id
  slug     = "notebook-${count.index}"
}
