variable "settings" {
  default = {}
}

locals {
  port = try(var.settings.port, 8080)
  typo = try(var.setings.port, 8080)
  ok   = can(local.missing)
}
