variable "hidden" {
  type    = bool
  default = true
}
