resource "coder_agent" "main" {
  os = "linux"
}

variable "hidden" {
  type = bool
}

resource "coder_app" "a" {
  agent_id     = coder_agent.main.id
  slug         = "a"
  hidden       = false
  display_name = "A"
}

resource "coder_app" "b" {
  agent_id     = coder_agent.main.id
  slug         = "b"
  hidden       = var.hidden
  display_name = "B"
}

resource "coder_app" "c" {
  agent_id     = coder_agent.main.id
  slug         = "c"
  hidden       = true
  display_name = null
  icon         = null
}
