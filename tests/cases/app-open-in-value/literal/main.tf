resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "a" {
  agent_id = coder_agent.main.id
  slug     = "a"
  open_in  = "window"
}

resource "coder_app" "b" {
  agent_id = coder_agent.main.id
  slug     = "b"
  open_in  = "tab"
}

resource "coder_app" "c" {
  agent_id = coder_agent.main.id
  slug     = "c"
  open_in  = "slim-window"
}
