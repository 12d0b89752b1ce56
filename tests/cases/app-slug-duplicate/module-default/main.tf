resource "coder_agent" "main" {
  os = "linux"
}

module "first" {
  source   = "./modules/code-server"
  agent_id = coder_agent.main.id
}

module "second" {
  source   = "./modules/code-server"
  agent_id = coder_agent.main.id
}
