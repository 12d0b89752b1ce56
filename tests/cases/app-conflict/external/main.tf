resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "desktop" {
  agent_id  = coder_agent.main.id
  slug      = "desktop"
  url       = "vscode://coder.coder-remote/open"
  external  = true
  subdomain = false
  share     = "owner"

  healthcheck {
    url       = "http://localhost:8080/healthz"
    interval  = 5
    threshold = 3
  }
}

resource "coder_app" "tool" {
  agent_id = coder_agent.main.id
  slug     = "tool"
  external = true
  command  = "tool"
}
