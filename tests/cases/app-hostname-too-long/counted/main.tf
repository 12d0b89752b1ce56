resource "coder_agent" "main" {
  os = "linux"
}

variable "replicas" {
  type = number
}

resource "coder_app" "pair" {
  count     = 2
  agent_id  = coder_agent.main.id
  slug      = "jupyter-notebook-with-gpu-support-beta1x"
  url       = "http://localhost:8888"
  subdomain = true
}

resource "coder_app" "some" {
  count     = var.replicas
  agent_id  = coder_agent.main.id
  slug      = "jupyter-notebook-with-gpu-support-beta1y"
  url       = "http://localhost:8889"
  subdomain = true
}
