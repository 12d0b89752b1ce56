resource "coder_agent" "main" {
  os = "linux"
}

variable "external" {
  type = bool
}

resource "coder_app" "desktop" {
  agent_id = coder_agent.main.id
  slug     = "desktop"
  url      = "http://localhost:8080"
  external = var.external
  share    = "owner"
}
