resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_agent" "Main" {
  os = "linux"
}
