# Broken on purpose: references that point at the wrong thing or at nothing.
resource "coder_agent" "main" {
  arch = "amd64"
  os   = "linux"
}

resource "docker_container" "workspace" {
  image = "codercom/enterprise-base:ubuntu"
}

resource "coder_app" "web" {
  agent_id = docker_container.workspace.id # app-agent-reference: not an agent's id
  slug     = "web"
  url      = "http://localhost:${var.web_port}" # reference-undeclared: no such variable
}

resource "coder_app" "api" {
  agent_id = coder_agent.main.id
  slug     = "web" # app-slug-duplicate
  url      = "http://localhost:${upper(8080)}" # fine: numbers convert to strings
}
