resource "coder_agent" "main" {
  os = "linux"
}

variable "legacy" {
  type    = bool
  default = true
}

resource "coder_app" "web" {
  agent_id = coder_agent.main.id
  slug     = "web"
  url      = var.legacy ? "http://localhost:1" : "http://localhost:8080"
}
