resource "coder_agent" "main" {
  os = "linux"
}

data "coder_workspace" "me" {}

resource "docker_container" "box" {
  image = "ubuntu"
}

resource "coder_app" "literal" {
  agent_id = "main"
  slug     = "literal"
}

resource "coder_app" "token" {
  agent_id = coder_agent.main.token
  slug     = "token"
}

resource "coder_app" "container" {
  agent_id = docker_container.box.id
  slug     = "container"
}

resource "coder_app" "workspace" {
  agent_id = data.coder_workspace.me.id
  slug     = "workspace"
}
