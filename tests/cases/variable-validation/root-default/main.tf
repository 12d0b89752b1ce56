variable "accept_license" {
  type    = bool
  default = false
  validation {
    condition     = var.accept_license
    error_message = "accept the license"
  }
}
