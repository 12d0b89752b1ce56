variable "replicas" {
  type = number
}

resource "coder_agent" "my_agent" {
  count = 2
  os    = "linux"
}

resource "coder_agent" "other_agent" {
  count = var.replicas
  os    = "linux"
}
