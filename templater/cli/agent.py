"""``templater agent``: the workspace agent, run inside a workspace (SPEC §11)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from templater.cli.common import UsageError

AGENT_ENVIRONMENT = """\
environment:
  TEMPLATER_AGENT_URL    the control plane's access URL, instead of --url
  TEMPLATER_AGENT_TOKEN  the agent token, instead of --token
"""


def _agent(args: argparse.Namespace) -> int:
    from importlib.metadata import PackageNotFoundError, version

    from templater.agent.service import AgentConfigError, agent_settings, run

    try:
        installed = version("templater")
    except PackageNotFoundError:
        installed = "unknown"
    try:
        settings = agent_settings(
            args.url or os.environ.get("TEMPLATER_AGENT_URL"),
            args.token or os.environ.get("TEMPLATER_AGENT_TOKEN"),
            args.token_file,
            args.state_dir,
            args.unix_socket,
            installed,
        )
        return run(settings)
    except AgentConfigError as problem:
        raise UsageError(str(problem)) from None


def add_commands(commands: Any) -> None:
    agent = commands.add_parser(
        "agent",
        help="run the workspace agent (inside a workspace)",
        description="Connect to the control plane and carry this workspace's app and port "
        "traffic and health checks. It reconnects by itself; stop it with Ctrl-C or SIGTERM.",
        epilog=AGENT_ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    agent.add_argument("--url", help="the control plane's access URL")
    token = agent.add_mutually_exclusive_group()
    token.add_argument("--token", help="the agent token (`templater agents token` issues one)")
    token.add_argument("--token-file", type=Path, metavar="FILE", help="read the token from FILE")
    agent.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="where the agent keeps its state (default: the user state directory)",
    )
    agent.add_argument(
        "--unix-socket",
        metavar="PATH",
        help="reach the control plane through this Unix socket (a reverse proxy's, or the "
        "server's --listen-unix) instead of the URL's host and port",
    )
    agent.set_defaults(run=_agent)
