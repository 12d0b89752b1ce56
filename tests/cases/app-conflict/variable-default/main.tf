resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "desktop" {
  agent_id = coder_agent.main.id
  slug     = "desktop"
  url      = "vscode://coder.coder-remote/open"
  external = var.external
  share    = "authenticated"
}
