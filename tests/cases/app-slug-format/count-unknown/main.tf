resource "coder_agent" "main" {
  os = "linux"
}

variable "replicas" {
  type = number
}

variable "names" {
  type = set(string)
}

resource "coder_app" "counted" {
  count    = var.replicas
  agent_id = coder_agent.main.id
  slug     = "Counted_App"
}

resource "coder_app" "each" {
  for_each = var.names
  agent_id = coder_agent.main.id
  slug     = "Each_App"
}

resource "coder_app" "zero" {
  count    = 0
  agent_id = coder_agent.main.id
  slug     = "Zero_App"
}
