resource "coder_agent" "my_agent" {
  os = "linux"
}

resource "coder_agent" "dev--box" {
  os = "linux"
}
