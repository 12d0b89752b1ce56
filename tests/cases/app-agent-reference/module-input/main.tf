resource "coder_agent" "main" {
  os = "linux"
}

resource "docker_container" "box" {
  image = "ubuntu"
}

module "web" {
  source   = "./modules/web"
  agent_id = docker_container.box.id
}

module "output" {
  source   = "./modules/web"
  agent_id = module.token.token
  slug     = "output"
}

module "token" {
  source = "./modules/agent"
}
