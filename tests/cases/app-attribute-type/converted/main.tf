resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "web" {
  agent_id     = coder_agent.main.id
  slug         = "web"
  url          = "http://localhost:8080"
  subdomain    = "true"
  order        = "3"
  hidden       = "false"
  display_name = 5

  healthcheck {
    url       = "http://localhost:8080/healthz"
    interval  = "5"
    threshold = 3.0
  }
}
