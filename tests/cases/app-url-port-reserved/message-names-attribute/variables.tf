variable "url" {
  type    = string
  default = "http://localhost:7"
}

variable "agent_id" {
  type    = string
  default = "main"
}
