resource "coder_agent" "main" {
  os             = "linux"
  startup_script = <<-EOT
    echo "starting"
  EOT   
}

resource "coder_app" "web" {
  agent_id = coder_agent.main.id
  slug     = "Web_App"
}
