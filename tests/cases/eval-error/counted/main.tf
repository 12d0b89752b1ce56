resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "pair" {
  count    = 2
  agent_id = coder_agent.main.id
  slug     = "pair-${count.index}"
  icon     = upper(["x"])
}
