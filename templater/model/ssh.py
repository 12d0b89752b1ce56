"""How a client reaches a workspace agent's SSH server (SPEC §12): an HTTP/1.1 upgrade to
``SSH_PROTOCOL`` at ``SSH_PATH`` on the access URL, with the user's API token; after the
control plane's ``101`` the connection carries the SSH protocol's bytes, through a stream from
the agent, both ways. Owner and admins only: the SSH server asks for nothing more."""

from __future__ import annotations

import re
from urllib.parse import quote

SSH_PATH = "/api/v1/ssh/"
"""Then ``OWNER/WORKSPACE`` and, for a workspace of several agents, ``/AGENT``; ``me`` is the
caller."""
SSH_PROTOCOL = "templater-ssh"
"""The ``Upgrade`` token of an SSH connection."""
HOST_PREFIX = "templater."
"""What ``templater config-ssh`` puts before a workspace's name to make an SSH host name:
``templater.WORKSPACE[.AGENT]``."""


_NAME = r"[A-Za-z0-9_-]+"
_TARGET = re.compile(rf"(?:({_NAME})/)?({_NAME})(?:\.({_NAME}))?")


class BadTarget(ValueError):
    """A workspace name that names no workspace, said for a person."""


def parse_target(text: str) -> tuple[str, str, str | None]:
    """``[templater.][OWNER/]WORKSPACE[.AGENT]`` as (owner, workspace, agent): owner ``me``
    when not given, agent None when not given (the workspace's only one)."""
    found = _TARGET.fullmatch(text.removeprefix(HOST_PREFIX))
    if found is None:
        raise BadTarget(
            f"{text!r} names no workspace: give WORKSPACE[.AGENT] (OWNER/WORKSPACE[.AGENT] for "
            "someone else's, as an admin)"
        )
    owner, workspace, agent = found.groups()
    return owner or "me", workspace, agent


def ssh_path(owner: str, workspace: str, agent: str | None) -> str:
    """The path that opens SSH to ``agent`` (None: the only one) of ``owner``'s workspace."""
    names = [owner, workspace] if agent is None else [owner, workspace, agent]
    return SSH_PATH + "/".join(quote(name, safe="") for name in names)
