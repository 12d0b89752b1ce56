# Broken on purpose: run with --max-share authenticated, and --workspace/--owner for an exact check.
#   templater lint --max-share authenticated --workspace my-long-workspace-name --owner alice examples/broken/hostname-and-share
resource "coder_agent" "main" {
  arch = "amd64"
  os   = "linux"
}

resource "coder_app" "preview" {
  agent_id  = coder_agent.main.id
  slug      = "storybook-component-preview-server" # app-hostname-too-long with --workspace/--owner
  url       = "http://localhost:6006"
  subdomain = true
  share     = "public" # app-share-above-max with --max-share authenticated
}

resource "coder_app" "metrics" {
  agent_id     = coder_agent.main.id
  slug         = "metrics"
  url          = "http://localhost:9100"
  hidden       = true
  display_name = "Metrics" # app-hidden-presentational
}
