share = "owner"
