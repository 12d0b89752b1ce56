variable "replicas" {
  type = number
}

resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_agent" "dev" {
  count = 1
  os    = "linux"
}

resource "coder_agent" "gpu" {
  count = var.replicas
  os    = "linux"
}

module "box" {
  source = "./modules/box"
}
