resource "coder_agent" "main" {
  os = "linux"
}

module "desktop" {
  source   = "./modules/desktop"
  agent_id = coder_agent.main.id
  external = true
}
