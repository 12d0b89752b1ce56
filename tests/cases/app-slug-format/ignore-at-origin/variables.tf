variable "a" {
  default = "Bad_A"
}

variable "b" {
  default = "Bad_B" # templater:ignore app-slug-format
}
