resource "coder_agent" "main" {
  os = "linux"
}

module "web" {
  source = "./modules/web"
}
