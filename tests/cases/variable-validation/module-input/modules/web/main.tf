variable "agent_id" {
  type = string
}

variable "share" {
  type    = string
  default = "owner"
  validation {
    condition     = contains(["owner", "authenticated"], var.share)
    error_message = "share must be owner or authenticated"
  }
}

resource "coder_app" "web" {
  agent_id = var.agent_id
  slug     = "web"
  share    = var.share
}
