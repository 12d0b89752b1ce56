"""The agent's embedded SSH server (SPEC §12), reached only through streams from the control
plane, never on a port of the workspace: the control plane decides who may open such a stream,
so the server asks for no password or key."""
