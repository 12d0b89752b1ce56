resource "coder_agent" "main" {
  os = "linux"
}

module "web" {
  source   = "./modules/web"
  agent_id = coder_agent.main.id
}
