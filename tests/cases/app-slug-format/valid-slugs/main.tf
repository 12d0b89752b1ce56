resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "a" {
  agent_id = coder_agent.main.id
  slug     = "code-server"
}

resource "coder_app" "b" {
  agent_id = coder_agent.main.id
  slug     = "x"
}

resource "coder_app" "c" {
  agent_id = coder_agent.main.id
  slug     = "123"
}

resource "coder_app" "d" {
  agent_id = coder_agent.main.id
  slug     = "a1-b2-c3"
}
