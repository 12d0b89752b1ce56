# Apps made by count and for_each: one per port the team publishes, and optional tools.
terraform {
  required_providers {
    coder = {
      source = "coder/coder"
    }
  }
}

variable "services" {
  description = "Web services the workspace runs, by slug."
  type = map(object({
    port  = number
    share = optional(string, "owner")
    path  = optional(string, "/")
  }))
  default = {
    api = { port = 3000, share = "authenticated" }
    web = { port = 5173 }
  }
}

variable "enable_terminal" {
  type    = bool
  default = true
}

data "coder_parameter" "notebooks" {
  name         = "notebooks"
  display_name = "Jupyter notebooks"
  type         = "number"
  default      = 2
  mutable      = true
}

resource "coder_agent" "main" {
  arch = "amd64"
  os   = "linux"
}

resource "coder_app" "service" {
  for_each = var.services

  agent_id     = coder_agent.main.id
  slug         = each.key
  display_name = upper(each.key)
  url          = "http://localhost:${each.value.port}${each.value.path}"
  subdomain    = true
  share        = each.value.share

  healthcheck {
    url       = "http://localhost:${each.value.port}${each.value.path}"
    interval  = 5
    threshold = 3
  }
}

resource "coder_app" "notebook" {
  count = tonumber(data.coder_parameter.notebooks.value)

  agent_id     = coder_agent.main.id
  slug         = "notebook-${count.index + 1}"
  display_name = "Notebook ${count.index + 1}"
  url          = "http://localhost:${8888 + count.index}"
  subdomain    = true
}

resource "coder_app" "terminal" {
  count = var.enable_terminal ? 1 : 0

  agent_id     = coder_agent.main.id
  slug         = "terminal"
  display_name = "Terminal"
  command      = "bash -l"
}
