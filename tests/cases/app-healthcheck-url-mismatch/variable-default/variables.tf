variable "health_url" {
  type    = string
  default = "http://localhost:8081/healthz"
}
