resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "over" {
  agent_id  = coder_agent.main.id
  slug      = "sssssssssssssssssssssssssssss"
  url       = "http://localhost:8888"
  subdomain = true
}

resource "coder_app" "fits" {
  agent_id  = coder_agent.main.id
  slug      = "ffffffffffffffffffffffffffff"
  url       = "http://localhost:8889"
  subdomain = true
}
