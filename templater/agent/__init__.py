"""The workspace agent (`templater agent`, SPEC §11): runs inside a workspace, dials out to the
control plane and carries its app and port traffic, health checks, listening ports and SSH."""
