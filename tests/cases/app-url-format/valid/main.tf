resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "a" {
  agent_id = coder_agent.main.id
  slug     = "a"
  url      = "http://localhost:8080/?folder=/home/coder"
}

resource "coder_app" "b" {
  agent_id = coder_agent.main.id
  slug     = "b"
  url      = "HTTPS://127.0.0.1"
}

resource "coder_app" "c" {
  agent_id = coder_agent.main.id
  slug     = "c"
  url      = "http://[::1]:3000"
}

resource "coder_app" "d" {
  agent_id = coder_agent.main.id
  slug     = "d"
  url      = "vscode://coder.coder-remote/open?owner=me"
  external = true
}
