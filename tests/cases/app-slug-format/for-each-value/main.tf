resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "tool" {
  for_each = var.tools
  agent_id = coder_agent.main.id
  slug     = each.value
}
