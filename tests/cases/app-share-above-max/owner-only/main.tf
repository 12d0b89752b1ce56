resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "a" {
  agent_id = coder_agent.main.id
  slug     = "a"
  share    = "authenticated"
}

resource "coder_app" "b" {
  agent_id = coder_agent.main.id
  slug     = "b"
  share    = "public"
}

resource "coder_app" "c" {
  agent_id = coder_agent.main.id
  slug     = "c"
  share    = "owner"
}
