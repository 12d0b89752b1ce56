resource "coder_agent" "main" {
  os = "linux"
}

resource "docker_container" "box" {
  image = "ubuntu"
}

module "web" {
  source   = "./modules/web"
  agent_id = coder_agent.main.id
  share    = docker_container.box.name
}
