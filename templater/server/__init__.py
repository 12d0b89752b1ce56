"""The control plane (`templater server`): the registry store and its migrations, the HTTP API and
its event stream, the app router, and the process that runs them together."""
