resource "coder_agent" "dev" {
  os = "linux"
}

resource "coder_app" "lab" {
  agent_id = coder_agent.dev.id
  url      = "http://localhost:8888"
}
