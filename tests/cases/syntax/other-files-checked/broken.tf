locals {
  x = (1 + 
}
