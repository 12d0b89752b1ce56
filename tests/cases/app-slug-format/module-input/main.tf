resource "coder_agent" "main" {
  os = "linux"
}

module "code" {
  source   = "./modules/code"
  agent_id = coder_agent.main.id
  slug     = "Code_Server"
}
