"""The control plane: the registry store, its HTTP API and the server that runs them."""
