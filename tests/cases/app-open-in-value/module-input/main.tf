resource "coder_agent" "main" {
  os = "linux"
}

module "app" {
  source   = "./modules/app"
  agent_id = coder_agent.main.id
  open_in  = "Tab"
}
