resource "coder_agent" "main" {
  os = "linux"
}

locals {
  icons = ["/icon/code.svg", "/emojis/1f4bb.png", "https://example.com/x.png", "data:image/png;base64,AAAA", "./x.svg", "../x.svg", ""]
}

resource "coder_app" "app" {
  count    = length(local.icons)
  agent_id = coder_agent.main.id
  slug     = "app-${count.index}"
  icon     = local.icons[count.index]
}
