resource "coder_agent" "main" {
  os = "linux"
}

module "helper" {
  source   = "./modules/helper"
  agent_id = coder_agent.main.id
  hidden   = true
}
