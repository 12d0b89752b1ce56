variable "agent_id" {
  type = string
}

variable "external" {
  type    = bool
  default = false
}

resource "coder_app" "desktop" {
  agent_id = var.agent_id
  slug     = "desktop"
  url      = "vscode://coder.coder-remote/open"
  external = var.external
  share    = "owner"
}
