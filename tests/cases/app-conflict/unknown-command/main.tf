resource "coder_agent" "main" {
  os = "linux"
}

variable "command" {
  type    = string
  default = null
}

variable "url" {
  type = string
}

resource "coder_app" "a" {
  agent_id = coder_agent.main.id
  slug     = "a"
  command  = var.command
  url      = "http://localhost:8080"
}

variable "unset_command" {
  type = string
}

resource "coder_app" "b" {
  agent_id = coder_agent.main.id
  slug     = "b"
  command  = var.unset_command
  url      = "http://localhost:8080"
}

resource "coder_app" "c" {
  agent_id = coder_agent.main.id
  slug     = "c"
  command  = "bash"
  url      = var.url
}
