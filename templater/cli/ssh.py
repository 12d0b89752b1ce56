"""``templater ssh`` and ``templater config-ssh`` (SPEC §12): plain OpenSSH to a workspace
agent's SSH server, through the control plane (``templater ssh --stdio`` is the ProxyCommand)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from templater.cli.common import EXIT_OK, Failure, UsageError
from templater.cli.remote import guarded, server_command

if TYPE_CHECKING:
    from templater.cli.ssh_config import HostKey
    from templater.model.records import AgentRecord
    from templater.provisioning.client import Client

KNOWN_HOSTS_FILE = "templater_known_hosts"
"""Beside the SSH configuration that config-ssh writes: its agents' host keys."""


def _ssh(args: argparse.Namespace) -> int:
    if args.stdio:
        if args.command:
            raise UsageError("--stdio carries an SSH connection: it runs no command")
        from templater.cli.ssh_stdio import run_stdio

        return run_stdio(args.target)
    return guarded(_ssh_client)(args)  # imports the API client, which --stdio must not


def _ssh_client(args: argparse.Namespace) -> int:
    """Run the system's ``ssh`` to the target with this ProxyCommand and the agent's host key
    pinned; its exit status (the command's)."""
    import shlex
    import shutil
    import signal
    import subprocess
    import tempfile

    from templater.cli.remote import connect
    from templater.cli.ssh_config import HostKey, known_hosts
    from templater.model.ssh import BadTarget, parse_target

    ssh = shutil.which("ssh")
    if ssh is None:
        raise Failure("no `ssh` here: install OpenSSH's client (apt-get install openssh-client)")
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    try:
        owner, workspace, agent_name = parse_target(args.target)
    except BadTarget as problem:
        raise UsageError(str(problem)) from None
    client = connect()
    owner = client.me().name if owner == "me" else owner
    agent = _agent(client.agents(owner, workspace), owner, workspace, agent_name)
    where = f"{owner}/{workspace}.{agent.name}"
    host = f"templater.{workspace}.{agent.name}"
    command_line = [*_proxy_command(), "ssh", "--stdio", where]
    with tempfile.TemporaryDirectory(prefix="templater-ssh-") as directory:
        pinned = Path(directory) / KNOWN_HOSTS_FILE
        assert agent.ssh_host_key is not None
        pinned.write_text(known_hosts([HostKey((host,), agent.ssh_host_key)]))
        options = {
            "ProxyCommand": shlex.join(command_line),
            "UserKnownHostsFile": str(pinned),
            "StrictHostKeyChecking": "yes",
            "UpdateHostKeys": "no",
            "HostKeyAlias": host,
        }
        argv = [ssh, *(f"-o{name}={value}" for name, value in options.items()), "--", host]
        # ssh has the terminal: Ctrl-C is its to handle, and its exit status is this one's.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            return subprocess.call([*argv, *command])
        finally:
            signal.signal(signal.SIGINT, previous)


def _agent(agents: list[AgentRecord], owner: str, workspace: str, name: str | None) -> AgentRecord:
    """The agent ``name`` (None: the only one) of the workspace, with its host key."""
    if not agents:
        raise Failure(f"there is no workspace {owner}/{workspace}, or it has no agents")
    if name is None:
        if len(agents) > 1:
            names = ", ".join(agent.name for agent in agents)
            raise Failure(f"{owner}/{workspace} has several agents ({names}): name one, WS.AGENT")
        [found] = agents
    else:
        matching = [agent for agent in agents if agent.name == name]
        if not matching:
            raise Failure(f"{owner}/{workspace} has no agent {name!r}")
        [found] = matching
    if found.ssh_host_key is None:
        raise Failure(
            f"the agent {owner}/{workspace}.{found.name} has not reported an SSH host key: "
            "start `templater agent` in the workspace"
        )
    return found


def _proxy_command() -> list[str]:
    """How ssh runs this templater: this Python, so that it works outside its virtualenv."""
    return [sys.executable, "-m", "templater"]


def _config_ssh(args: argparse.Namespace) -> int:
    import difflib
    import shlex

    from templater.cli.remote import connect
    from templater.cli.ssh_config import block, known_hosts, with_block

    config_path: Path = args.ssh_config.expanduser()
    hosts_path = config_path.parent / KNOWN_HOSTS_FILE
    try:
        config = config_path.read_text(encoding="utf-8") if config_path.exists() else ""
    except (OSError, UnicodeDecodeError) as problem:
        raise Failure(f"cannot read {config_path}: {problem}") from None
    if args.remove:
        managed, hosts = None, None
    else:
        hosts = known_hosts(_host_keys(connect()))
        proxy = shlex.join(_proxy_command()) + " ssh --stdio %h"
        managed = block(proxy, str(hosts_path))
    changed = with_block(config, managed)
    if args.dry_run:
        diff = difflib.unified_diff(
            config.splitlines(keepends=True),
            changed.splitlines(keepends=True),
            str(config_path),
            f"{config_path} (config-ssh)",
        )
        sys.stdout.writelines(diff)
        if hosts is not None:
            print(f"{hosts_path} would hold {len(hosts.splitlines())} host keys")
        return EXIT_OK
    try:
        _write(config_path, changed)
        if hosts is None:
            hosts_path.unlink(missing_ok=True)
        else:
            _write(hosts_path, hosts)
    except OSError as problem:
        raise Failure(f"cannot write {problem.filename}: {problem.strerror}") from None
    if args.remove:
        print(f"Removed templater's hosts from {config_path}.")
    else:
        count = len(hosts.splitlines()) if hosts else 0
        print(f"Wrote templater's hosts to {config_path} ({count} agents with host keys).")
        print("Connect with: ssh templater.WORKSPACE  (or templater.WORKSPACE.AGENT)")
    return EXIT_OK


def _host_keys(client: Client) -> list[HostKey]:
    """The host keys of the user's own agents, each with its host names; the agents without
    one (never connected) are named on stderr."""
    from templater.cli.ssh_config import HostKey, host_names

    me = client.me().name
    agents = client.agents(me, None)
    per_workspace: dict[str, int] = {}
    for agent in agents:
        per_workspace[agent.workspace] = per_workspace.get(agent.workspace, 0) + 1
    keys = []
    for agent in agents:
        if agent.ssh_host_key is None:
            print(
                f"templater: {agent.workspace}.{agent.name} has no SSH host key yet (its agent "
                "never connected): run config-ssh again once it has",
                file=sys.stderr,
            )
            continue
        only = per_workspace[agent.workspace] == 1
        keys.append(HostKey(host_names(agent.workspace, agent.name, only), agent.ssh_host_key))
    return keys


def _write(path: Path, text: str) -> None:
    """Replace ``path`` in one step, readable by its owner only (0600, in a 0700 directory
    when it makes one), as OpenSSH wants its files."""
    import os

    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.templater")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)


def add_commands(commands: Any) -> None:
    ssh = server_command(
        commands,
        "ssh",
        "open a shell or run a command in a workspace, over SSH",
        "Run the system's ssh to WORKSPACE's agent through the control plane, with the agent's "
        "host key pinned: a shell, or COMMAND with its exit status. With --stdio, carry one SSH "
        "connection on stdin and stdout instead (OpenSSH's ProxyCommand, as config-ssh sets it).",
    )
    ssh.add_argument(
        "target",
        metavar="WORKSPACE[.AGENT]",
        help="the workspace (templater.WORKSPACE as well); OWNER/WORKSPACE for an admin",
    )
    ssh.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND", help="to run")
    ssh.add_argument(
        "--stdio", action="store_true", help="be a ProxyCommand: SSH on stdin and stdout"
    )
    ssh.set_defaults(run=_ssh)

    config = server_command(
        commands,
        "config-ssh",
        "let plain ssh, scp and VS Code reach your workspaces as templater.WORKSPACE",
        "Write a managed Host templater.* block into your SSH configuration (replaced on every "
        "run; the rest of the file is left as it is) and a known-hosts file of your agents' host "
        "keys beside it, checked strictly.",
    )
    config.add_argument(
        "--ssh-config",
        type=Path,
        default=Path("~/.ssh/config"),
        metavar="FILE",
        help="the SSH configuration to change (default: ~/.ssh/config)",
    )
    config.add_argument("--dry-run", action="store_true", help="show the change, make none")
    config.add_argument("--remove", action="store_true", help="take templater's block out")
    config.set_defaults(run=guarded(_config_ssh))
