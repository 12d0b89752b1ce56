resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "noscheme" {
  agent_id = coder_agent.main.id
  slug     = "noscheme"
  url      = "localhost:8080"
}

resource "coder_app" "ftp" {
  agent_id = coder_agent.main.id
  slug     = "ftp"
  url      = "ftp://localhost/files"
}

resource "coder_app" "nohost" {
  agent_id = coder_agent.main.id
  slug     = "nohost"
  url      = "http://"
}

resource "coder_app" "path" {
  agent_id = coder_agent.main.id
  slug     = "path"
  url      = "/app"
}
