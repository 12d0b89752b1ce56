resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "a" {
  agent_id = coder_agent.main.id
  slug     = "a"
  share    = "owner"
}

resource "coder_app" "b" {
  agent_id = coder_agent.main.id
  slug     = "b"
  share    = "authenticated"
}

resource "coder_app" "c" {
  agent_id = coder_agent.main.id
  slug     = "c"
  share    = "public"
}

resource "coder_app" "d" {
  agent_id = coder_agent.main.id
  slug     = "d"
  share    = null
}
