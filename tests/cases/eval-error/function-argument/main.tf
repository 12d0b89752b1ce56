resource "coder_agent" "main" {
  os = "linux"
}

locals {
  name = upper(["code"])
}

resource "coder_app" "web" {
  agent_id = coder_agent.main.id
  slug     = "web"
  icon     = format("/icon/%d.svg", "code")
}
