resource "coder_agent" "inner" {
  os = "linux"
}

output "token" {
  value = coder_agent.inner.token
}
