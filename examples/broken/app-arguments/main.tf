# Broken on purpose: argument values Coder refuses.
resource "coder_agent" "main" {
  arch = "amd64"
  os   = "linux"
}

resource "coder_app" "code-server" {
  agent_id     = coder_agent.main.id
  slug         = "Code_Server"                 # app-slug-format: lower case and hyphens only
  display_name = "code-server"
  url          = "http://localhost:13337"
  subdomian    = true                          # app-unknown-attribute: did you mean "subdomain"?
  share        = "everyone"                    # app-share-value
  open_in      = "window"                      # app-open-in-value
  icon         = "icons/code.svg"              # app-icon-format: missing the leading slash
  order        = "first"                       # app-attribute-type: not a number
}
