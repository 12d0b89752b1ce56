resource "coder_agent" "main" {
  os = "linux"
}

variable "beta" {
  type    = bool
  default = true
}

resource "coder_app" "code" {
  agent_id = coder_agent.main.id
  slug     = var.beta ? "Code_Beta" : "code"
}
