"""What ``templater config-ssh`` writes: one managed block in an OpenSSH client configuration,
between marker lines, and a known-hosts file of the user's agents' host keys. Pure text, so that
running it twice gives the same file and everything outside the markers stays as it was."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from templater.model.ssh import HOST_PREFIX

BEGIN = "# ------------ BEGIN templater config-ssh ------------"
END = "# ------------ END templater config-ssh ------------"
_NOTE = (
    "# Written by `templater config-ssh`; run it again to update this block, with --remove to "
    "take it out.\n# Edits between these markers are replaced."
)


@dataclass(frozen=True, slots=True)
class HostKey:
    """An agent's host key and the host names it answers to."""

    names: tuple[str, ...]
    key: str


def host_names(workspace: str, agent: str, only_agent: bool) -> tuple[str, ...]:
    """``templater.WORKSPACE.AGENT``, and ``templater.WORKSPACE`` for a workspace's only agent."""
    qualified = f"{HOST_PREFIX}{workspace}.{agent}"
    return (f"{HOST_PREFIX}{workspace}", qualified) if only_agent else (qualified,)


def known_hosts(keys: Iterable[HostKey]) -> str:
    """A known-hosts file: one line per agent, its names then its key."""
    return "".join(f"{','.join(key.names)} {key.key}\n" for key in sorted(keys, key=_first_name))


def block(proxy_command: str, known_hosts_path: str) -> str:
    """The managed block: every ``templater.*`` host goes through the ProxyCommand and is
    checked against the agents' keys, and no other."""
    return (
        f"{BEGIN}\n{_NOTE}\n"
        f"Host {HOST_PREFIX}*\n"
        f"    ProxyCommand {proxy_command}\n"
        f"    UserKnownHostsFile {_quoted(known_hosts_path)}\n"
        "    StrictHostKeyChecking yes\n"
        "    UpdateHostKeys no\n"
        f"{END}\n"
    )


def with_block(config: str, managed: str | None) -> str:
    """``config`` with its managed block replaced by ``managed`` (None: taken out); a config
    without one gets it at the end, after a blank line."""
    before, found, after = _split(config)
    if managed is None:
        if not found:
            return config
        return before.rstrip("\n") + "\n" + after if before.strip() else after
    if found:
        return before + managed + after
    if not config.strip():
        return managed
    return config.rstrip("\n") + "\n\n" + managed


def _split(config: str) -> tuple[str, bool, str]:
    """The text before the managed block, whether there is one, and the text after it."""
    lines = config.splitlines(keepends=True)
    starts = [index for index, line in enumerate(lines) if line.strip() == BEGIN]
    if not starts:
        return config, False, ""
    start = starts[0]
    ends = [index for index, line in enumerate(lines) if index > start and line.strip() == END]
    end = ends[0] + 1 if ends else len(lines)  # a lost END marker: the block runs to the end
    return "".join(lines[:start]), True, "".join(lines[end:])


def _first_name(key: HostKey) -> str:
    return key.names[0]


def _quoted(path: str) -> str:
    return f'"{path}"' if any(character.isspace() for character in path) else path
