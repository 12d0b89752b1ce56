variable "slug" {
  type    = string
  default = "My_App"
}
