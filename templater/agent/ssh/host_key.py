"""The agent's SSH host key: made once and kept in its state directory, readable by its user
only, so that a client that pinned it (``templater config-ssh``) finds the same key after every
restart."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import asyncssh

HOST_KEY_FILE = "ssh_host_ed25519_key"


class HostKeyError(Exception):
    """The host key file is there but cannot be used, said for a person."""


def load_host_key(state_dir: Path) -> asyncssh.SSHKey:
    """The host key kept in ``state_dir``, made and kept there first if there is none."""
    path = state_dir / HOST_KEY_FILE
    with contextlib.suppress(FileNotFoundError):
        return _read(path)
    key = asyncssh.generate_private_key("ssh-ed25519")
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another agent of the same state directory was first
        return _read(path)
    except OSError as problem:
        raise HostKeyError(f"the SSH host key {path} cannot be written: {problem}") from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key.export_private_key())
    return key


def _read(path: Path) -> asyncssh.SSHKey:
    try:
        return asyncssh.read_private_key(path)
    except FileNotFoundError:
        raise
    except (OSError, asyncssh.KeyImportError) as problem:
        raise HostKeyError(f"the SSH host key {path} cannot be read: {problem}") from None


def public_key_text(key: asyncssh.SSHKey) -> str:
    """The public half as a known-hosts line has it: ``ssh-ed25519 AAAA…``, no comment."""
    algorithm, data, *_ = key.export_public_key("openssh").decode("ascii").split()
    return f"{algorithm} {data}"
