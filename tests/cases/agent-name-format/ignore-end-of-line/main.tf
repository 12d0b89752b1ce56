resource "coder_agent" "my_agent" { # templater:ignore agent-name-format
  os = "linux"
}
