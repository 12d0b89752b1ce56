module "one" {
  source = "./modules/box"
}

module "two" {
  source = "./modules/box"
}
