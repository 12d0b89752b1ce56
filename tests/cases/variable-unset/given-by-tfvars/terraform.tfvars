image = "ubuntu"
