resource "coder_agent" "dev" {
  os = "linux"
}

module "box" {
  source = "./modules/box"
}
