module "box" {
  source = "./modules/box"
}
