resource "coder_agent" "main" {
  os = "linux"
}

variable "replicas" {
  type = number
}

resource "coder_app" "pair" {
  count    = 2
  agent_id = "main"
  slug     = "pair-${count.index}"
}

resource "coder_app" "some" {
  count    = var.replicas
  agent_id = coder_agent.main.token
  slug     = "some-${count.index}"
}
