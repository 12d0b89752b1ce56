resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "a" {
  agent_id = coder_agent.main.id
  slug     = "a"
  open_in  = var.open_in
}
