resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "nine" {
  agent_id = coder_agent.main.id
  slug     = "nine"
  url      = "http://localhost:9"
}

resource "coder_app" "default" {
  agent_id = coder_agent.main.id
  slug     = "default"
  url      = "http://localhost"
}

resource "coder_app" "external" {
  agent_id = coder_agent.main.id
  slug     = "external"
  url      = "https://example.com:5/"
  external = true
}
