resource "coder_agent" "main" {
  os = "linux"
}

variable "share" {
  type = string
}

data "coder_parameter" "share" {
  name = "share"
  type = "string"
}

resource "coder_app" "a" {
  agent_id = coder_agent.main.id
  slug     = "a"
  share    = var.share
}

resource "coder_app" "b" {
  agent_id = coder_agent.main.id
  slug     = "b"
  share    = data.coder_parameter.share.value
}
