resource "coder_agent" "main" {
  os = "linux"
}

module "code-server" {
  count    = 1
  source   = "registry.coder.com/coder/code-server/coder"
  version  = "~> 1.0"
  agent_id = coder_agent.main.id
}
