resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "shell" {
  agent_id  = coder_agent.main.id
  slug      = "shell"
  command   = "htop"
  subdomain = true

  healthcheck {
    url       = "http://localhost:8080/healthz"
    interval  = 5
    threshold = 3
  }
}
