resource "coder_agent" "main" {
  os = "linux"
}

locals {
  slugs = ["one", "Two_2", "three"]
}

resource "coder_app" "app" {
  count    = 3
  agent_id = coder_agent.main.id
  slug     = local.slugs[count.index]
}
