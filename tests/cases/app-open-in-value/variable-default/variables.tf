variable "open_in" {
  default = "new-tab"
}
