resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_agent" "gpu" {
  os = "linux"
}

resource "coder_app" "a" {
  agent_id = coder_agent.main.id
  slug     = "jupyter"
}

resource "coder_app" "b" {
  agent_id = coder_agent.gpu.id
  slug     = "jupyter"
}
