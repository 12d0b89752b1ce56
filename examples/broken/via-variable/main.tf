# Broken on purpose: the bad values live in variables.tf and in a module input; the
# diagnostics point there, where they have to be fixed.
resource "coder_agent" "main" {
  arch = "amd64"
  os   = "linux"
}

resource "coder_app" "ide" {
  agent_id = coder_agent.main.id
  slug     = var.ide_slug
  url      = "http://localhost:${var.ide_port}"
  share    = var.expose ? "public" : var.share
}

module "notebook" {
  source   = "../../module-app/modules/web-app"
  agent_id = coder_agent.main.id
  slug     = "notebook"
  port     = 8888
  share    = "team" # app-share-value, reported here rather than inside the module
}
