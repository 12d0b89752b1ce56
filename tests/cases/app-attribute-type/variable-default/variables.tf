variable "subdomain" {
  default = "enabled"
}
