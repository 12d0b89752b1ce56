resource "coder_agent" "main" {
  os   = "linux"
  arch = "amd64"
}

resource "coder_app" "a" {
  agent_id = coder_agent.main.id
  slug     = "a"
  share    = "Public"
}

resource "coder_app" "b" {
  agent_id = coder_agent.main.id
  slug     = "b"
  share    = "owners"
}
