resource "coder_app" "web" {
  slug = = "web"
}
