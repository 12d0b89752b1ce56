resource "coder_agent" "box" {
  os = "linux"
}
