locals {
  slugs = ["a", "b"]
  third = local.slugs[2]
  none  = null
  name  = local.none.name
  a     = local.b
  b     = local.a
}
