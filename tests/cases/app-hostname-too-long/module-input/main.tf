resource "coder_agent" "main" {
  os = "linux"
}

module "nb" {
  source   = "./modules/nb"
  agent_id = coder_agent.main.id
  slug     = "jupyter-notebook-with-gpu-support-beta1x"
}
