resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "app" {
  count    = 3
  agent_id = coder_agent.main.id
  slug     = count.index == 2 ? "app-c" : "App_AB"
}
