resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "web" {
  agent_id  = coder_agent.main.id
  slug      = "web"
  url       = "http://localhost:8080"
  subdomain = true
  external  = false
  share     = "owner"
  command   = null

  healthcheck {
    url       = "http://localhost:8080/healthz"
    interval  = 5
    threshold = 3
  }
}

resource "coder_app" "shell" {
  agent_id = coder_agent.main.id
  slug     = "shell"
  command  = "bash"
  url      = null
}
