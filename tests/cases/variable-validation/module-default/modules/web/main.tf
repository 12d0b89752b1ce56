variable "agent_id" {
  type = string
}

variable "port" {
  type    = number
  default = 80
  validation {
    condition     = var.port > 1024
    error_message = "port must be above 1024"
  }
}

resource "coder_app" "web" {
  agent_id = var.agent_id
  slug     = "web"
  url      = "http://localhost:${var.port}"
}
