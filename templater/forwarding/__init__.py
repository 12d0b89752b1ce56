"""``templater port-forward`` (SPEC §9), its working part: listeners on this machine whose every
connection (TCP) or client address (UDP) becomes a stream into a workspace, asked of the control
plane, which has the workspace's agent open it."""
