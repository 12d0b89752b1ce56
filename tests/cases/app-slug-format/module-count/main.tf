resource "coder_agent" "main" {
  os = "linux"
}

module "m" {
  count    = 2
  source   = "./modules/app"
  agent_id = coder_agent.main.id
}
