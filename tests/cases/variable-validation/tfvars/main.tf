variable "share" {
  type    = string
  default = "owner"
  validation {
    condition     = contains(["owner", "authenticated"], var.share)
    error_message = "share must be owner or authenticated"
  }
}
