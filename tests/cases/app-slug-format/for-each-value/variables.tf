variable "tools" {
  type = map(string)
  default = {
    a = "tool-a"
    b = "Tool_B"
  }
}
