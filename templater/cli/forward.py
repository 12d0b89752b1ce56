"""``templater port-forward``: a workspace's ports on this machine (SPEC §9)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from templater.cli.common import EXIT_OK, UsageError
from templater.cli.remote import agent_of, connect, guarded, server_command

_SPEC_HELP = (
    "[LOCAL_IP:]LPORT[-LEND][:RPORT[-REND]], comma-separated; may be given several times. "
    "Without LOCAL_IP it listens on 127.0.0.1 and [::1]; RPORT defaults to LPORT"
)


def _port_forward(args: argparse.Namespace) -> int:
    import uvloop

    from templater.forwarding.remote import AgentPorts
    from templater.forwarding.session import BindError, forward
    from templater.model.forwarding import SpecError, parse_forwards
    from templater.provisioning.credentials import load_credentials
    from templater.relay.upgrade import ControlPlane

    specs = [("tcp", spec) for spec in args.tcp] + [("udp", spec) for spec in args.udp]
    if not specs:
        raise UsageError("port-forward needs at least one --tcp or --udp SPEC")
    try:
        forwards = parse_forwards(specs)
    except SpecError as problem:
        raise UsageError(str(problem)) from None
    workspace, dot, agent = args.workspace.partition(".")
    if not workspace or (dot and not agent):
        raise UsageError(f"{args.workspace!r} is not WORKSPACE or WORKSPACE.AGENT")
    client = connect()
    owner = args.owner or client.me().name
    agent = agent_of(client, owner, workspace, agent or None, f"{workspace}.AGENT")
    client.close()
    credentials = load_credentials()
    ports = AgentPorts(ControlPlane(credentials.url), credentials.token, owner, workspace, agent)

    def say(line: str) -> None:
        print(line, flush=True)

    def warn(line: str) -> None:
        print(f"templater: {line}", file=sys.stderr, flush=True)

    try:
        uvloop.run(forward(ports, forwards, say, warn))
    except BindError as problem:
        raise UsageError(str(problem)) from None
    return EXIT_OK


def add_commands(commands: Any) -> None:
    command = server_command(
        commands,
        "port-forward",
        "forward local ports to a workspace's ports",
        "Listen on this machine and carry every connection (TCP) or client address (UDP)\n"
        "to the port in the workspace, through the control plane and the workspace's agent.\n"
        "It runs until Ctrl-C (exit status 0); a connection made while the agent or the\n"
        "control plane restarts waits for it for up to 10 s. Only the workspace's owner and\n"
        "admins may. A bad SPEC, or a local port it cannot listen on, is exit status 2.",
    )
    command.add_argument(
        "workspace",
        metavar="WORKSPACE[.AGENT]",
        help="the workspace, and its agent when it has several",
    )
    command.add_argument("--tcp", action="append", default=[], metavar="SPEC", help=_SPEC_HELP)
    command.add_argument("--udp", action="append", default=[], metavar="SPEC", help=_SPEC_HELP)
    command.add_argument("--owner", help="the workspace's owner (admins; default: you)")
    command.set_defaults(run=guarded(_port_forward))
