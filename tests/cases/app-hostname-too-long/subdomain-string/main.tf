resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "long" {
  agent_id  = coder_agent.main.id
  slug      = "jupyter-notebook-with-gpu-support-beta1x"
  url       = "http://localhost:8888"
  subdomain = "true"
}
