provider "registry.terraform.io/coder/coder" {
  version = "0.4.15"
  hashes = [
    "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
  ]
}
