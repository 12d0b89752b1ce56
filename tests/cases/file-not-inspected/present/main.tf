resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_script" "setup" {
  agent_id     = coder_agent.main.id
  display_name = "setup"
  script       = templatefile("${path.module}/run.sh", { PORT = 8080 })
}

resource "coder_app" "web" {
  agent_id = coder_agent.main.id
  slug     = "web"
  url      = trimspace(file("${path.module}/url.txt"))
}
