resource "coder_agent" "main" {
  os = "linux"
}

resource "coder_agent" "Dev-2" {
  os = "linux"
}
