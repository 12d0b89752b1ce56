"""The pure core: a template directory parsed (python-hcl2's grammar), loaded and evaluated the way
Terraform would, every value with its source position. No I/O but reading the module's files."""
