resource "coder_agent" "main" {
  os = "linux"
}

variable "open_in" {
  type = string
}

resource "coder_app" "a" {
  agent_id = coder_agent.main.id
  slug     = "a"
  open_in  = var.open_in
}
