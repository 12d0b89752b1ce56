share = "everyone"
