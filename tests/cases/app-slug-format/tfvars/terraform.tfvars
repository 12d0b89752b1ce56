slug = "Code_Server"
