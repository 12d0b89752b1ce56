resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "a" {
  agent_id = coder_agent.main.id
  slug     = "a"
  icon     = "code.svg"
}

resource "coder_app" "b" {
  agent_id = coder_agent.main.id
  slug     = "b"
  icon     = "icon/code.svg"
}
