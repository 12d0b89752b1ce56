"""`templater plan`, `apply` and `destroy`: a template's desired agents and apps, the diff against
the registry, and the control plane's API client (httpx)."""
