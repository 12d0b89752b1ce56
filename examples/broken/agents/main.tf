# Broken on purpose: agent names Coder refuses.
resource "coder_agent" "dev_box" { # agent-name-format: no underscores
  arch = "amd64"
  os   = "linux"
}

resource "coder_agent" "main" {
  arch = "amd64"
  os   = "linux"
}

resource "coder_agent" "Main" { # agent-name-duplicate: names compare ignoring case
  arch = "amd64"
  os   = "linux"
}

resource "coder_agent" "gpu" {
  count = 2 # agent-name-duplicate: both instances are named "gpu"
  arch  = "amd64"
  os    = "linux"
}
