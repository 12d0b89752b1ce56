resource "coder_agent" "main" {
  os = "linux"
}

variable "subdomain" {
  type = bool
}

variable "suffix" {
  type = string
}

resource "coder_app" "a" {
  agent_id  = coder_agent.main.id
  slug      = "jupyter-notebook-with-gpu-support-beta1x"
  url       = "http://localhost:8888"
  subdomain = var.subdomain
}

resource "coder_app" "b" {
  agent_id  = coder_agent.main.id
  slug      = "jupyter-notebook-with-gpu-support-beta1${var.suffix}"
  url       = "http://localhost:8889"
  subdomain = true
}
