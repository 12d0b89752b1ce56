variable "share" {
  type    = string
  default = "team"
}
