resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "tool" {
  for_each = toset(["a", "b"])
  agent_id = coder_agent.main.id
  slug     = "tool"
}
