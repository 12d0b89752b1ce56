share = "public"
