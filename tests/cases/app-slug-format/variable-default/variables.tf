variable "slug" {
  type    = string
  default = "Code_Server"
}
