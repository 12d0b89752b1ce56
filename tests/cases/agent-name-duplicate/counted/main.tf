variable "replicas" {
  type = number
}

resource "coder_agent" "dev" {
  count = 2
  os    = "linux"
}

resource "coder_agent" "single" {
  count = 1
  os    = "linux"
}

resource "coder_agent" "maybe" {
  count = var.replicas
  os    = "linux"
}

resource "coder_agent" "other" {
  for_each = toset([])
  os       = "linux"
}
