variable "interval" {
  type    = number
  default = 0
}
