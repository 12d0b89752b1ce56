variable "icon" {
  type    = string
  default = "icon/jupyter.svg"
}
