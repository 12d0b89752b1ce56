variable "agent_id" {
  type = string
}

output "slug" {
  value = "web"
}
