resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_app" "web" {
  count      = 1
  agent_id   = coder_agent.main.id
  slug       = "web"
  url        = "http://localhost:8080"
  depends_on = [coder_agent.main]

  lifecycle {
    ignore_changes = all
  }

  dynamic "healthcheck" {
    for_each = ["/healthz"]
    content {
      url       = "http://localhost:8080${healthcheck.value}"
      interval  = 5
      threshold = 3
    }
  }
}

resource "coder_app" "each" {
  for_each = toset(["a"])
  agent_id = coder_agent.main.id
  slug     = each.key
}
