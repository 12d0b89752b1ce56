variable "external" {
  type    = bool
  default = true
}
