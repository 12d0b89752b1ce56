# Broken on purpose: healthchecks that cannot work.
resource "coder_agent" "main" {
  arch = "amd64"
  os   = "linux"
}

resource "coder_app" "jupyter" {
  agent_id = coder_agent.main.id
  slug     = "jupyter"
  url      = "http://localhost:8888"

  healthcheck {
    url       = "http://localhost:8888/api"
    interval  = 0 # app-healthcheck-range: Coder would never check it
    threshold = 3
  }

  healthcheck { # app-healthcheck-count: one block at most
    url      = "http://localhost:8888/api"
    interval = 5 # app-missing-attribute: threshold
  }
}

resource "coder_app" "grafana" {
  agent_id = coder_agent.main.id
  slug     = "grafana"
  url      = "http://localhost:3000"

  healthcheck {
    url       = "http://localhost:9090/-/healthy" # app-healthcheck-url-mismatch: checks Prometheus
    interval  = 5
    threshold = 3
  }
}
