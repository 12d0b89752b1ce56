resource "coder_agent" "dev" {
  os = "linux"
}
