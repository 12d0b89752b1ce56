resource "coder_agent" "main" {
  os = "linux"
}

variable "names" {
  type = set(string)
}

resource "coder_app" "pair" {
  count    = 2
  agent_id = coder_agent.main.id
  slug     = "pair-${count.index}"
  url      = "localhost:8080"
}

resource "coder_app" "each" {
  for_each = var.names
  agent_id = coder_agent.main.id
  slug     = each.key
  url      = "localhost:8080"
}
