variable "agent_id" {
  type    = string
  default = "main"
}
