resource "coder_agent" "box_agent" {
  os = "linux"
}
