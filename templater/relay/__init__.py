"""Carrying bytes between connections, as the agent, the control plane and ``templater
port-forward`` all do: two transports joined into one stream, and a connection to the control
plane upgraded (HTTP/1.1 ``101``) to carry raw bytes. Pure asyncio, no framework."""
