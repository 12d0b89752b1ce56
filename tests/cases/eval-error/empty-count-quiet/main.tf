resource "coder_agent" "main" {
  os = "linux"
}

variable "app" {
  type = object({
    slug = string
    port = number
  })
  default = null
}

resource "coder_app" "optional" {
  count    = var.app != null ? 1 : 0
  agent_id = coder_agent.main.id
  slug     = var.app.slug
  url      = "http://localhost:${var.app.port}"
}
