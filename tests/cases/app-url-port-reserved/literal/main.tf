resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "five" {
  agent_id = coder_agent.main.id
  slug     = "five"
  url      = "http://localhost:5"
}

resource "coder_app" "zero" {
  agent_id = coder_agent.main.id
  slug     = "zero"
  url      = "http://localhost:0/"
}

resource "coder_app" "eight" {
  agent_id = coder_agent.main.id
  slug     = "eight"
  url      = "https://[::1]:8/app"
}
