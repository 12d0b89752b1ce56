variable "url" {
  type    = string
  default = "http://localhost:7"
}
