resource "coder_agent" "inner" {
  os = "linux"
}

output "id" {
  value = coder_agent.inner.id
}
