variable "ide_slug" {
  type    = string
  default = "VS Code" # app-slug-format
}

variable "ide_port" {
  type    = number
  default = 8000
}

variable "expose" {
  type    = bool
  default = false
}

variable "share" {
  type    = string
  default = "owners" # app-share-value, chosen by the conditional in main.tf
}
