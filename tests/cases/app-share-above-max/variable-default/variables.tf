variable "share" {
  default = "public"
}
