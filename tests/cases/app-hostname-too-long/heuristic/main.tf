resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "long" {
  agent_id  = coder_agent.main.id
  slug      = "jupyter-notebook-with-gpu-support-beta1x"
  url       = "http://localhost:8888"
  subdomain = true
}

resource "coder_app" "fits" {
  agent_id  = coder_agent.main.id
  slug      = "jupyter-notebook-with-gpu-support-beta1"
  url       = "http://localhost:8889"
  subdomain = true
}

resource "coder_app" "path" {
  agent_id  = coder_agent.main.id
  slug      = "jupyter-notebook-with-gpu-support-beta1x-p"
  url       = "http://localhost:8890"
  subdomain = false
}
