resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "shell" {
  agent_id = coder_agent.main.id
  slug     = "shell"
  command  = "bash"
  url      = "http://localhost:8080"
}
