resource "coder_agent" "main" {
  os = "linux"
}

variable "replicas" {
  type = number
}

resource "coder_app" "pair" {
  count    = 2
  agent_id = coder_agent.main.id
  slug     = "pair-${count.index}"
  share    = "public"
}

resource "coder_app" "some" {
  count    = var.replicas
  agent_id = coder_agent.main.id
  slug     = "some-${count.index}"
  share    = "public"
}
