# Broken on purpose: arguments that exclude each other, and URLs Coder cannot proxy.
resource "coder_agent" "main" {
  arch = "amd64"
  os   = "linux"
}

resource "coder_app" "shell" {
  agent_id = coder_agent.main.id
  slug     = "shell"
  command  = "bash -l"
  url      = "http://localhost:7681" # app-conflict: a command is not a web app
}

resource "coder_app" "docs" {
  agent_id = coder_agent.main.id
  slug     = "docs"
  url      = "https://coder.com/docs"
  external = true
  share    = "public" # app-conflict: external apps are not proxied, so not shared
}

resource "coder_app" "admin" {
  agent_id = coder_agent.main.id
  slug     = "admin"
  url      = "localhost:8080" # app-url-format: no scheme
}

resource "coder_app" "agent-port" {
  agent_id = coder_agent.main.id
  slug     = "agent-port"
  url      = "http://localhost:4" # app-url-port-reserved
}
