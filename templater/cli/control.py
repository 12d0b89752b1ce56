"""The control-plane commands of the CLI: server, login, plan, apply, destroy, apps, url, ports,
agents."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from templater.cli.common import (
    EXIT_OK,
    Failure,
    Interrupted,
    UsageError,
    add_evaluation_options,
    evaluation_options,
    module_directories,
)
from templater.cli.remote import (
    agent_of,
    connect,
    guarded,
    print_json,
    print_table,
    server_command,
    since,
    terminal_table,
)
from templater.model.levels import PORT_SHARE_LEVELS

if TYPE_CHECKING:
    from datetime import datetime

    from templater.model.records import AgentRecord, AppRecord
    from templater.provisioning.client import Client


def _server(args: argparse.Namespace) -> int:
    from templater.server.serve import ServerConfigError, run, server_config

    try:
        config = server_config(
            args.data_dir,
            args.listen,
            args.access_url,
            args.wildcard_access_url,
            args.database,
            args.workers,
            args.log_format,
            args.listen_unix,
            args.max_body,
            args.max_apps_per_workspace,
            args.max_workspaces_per_user,
            args.max_checks_per_second,
            args.max_streams_per_agent,
        )
        return run(config)
    except ServerConfigError as problem:
        raise UsageError(str(problem)) from None


def _token(given: str | None) -> str:
    """The token of --token, else one typed at a prompt that does not echo it when stdin is a
    terminal, else the first line of stdin (``echo $TOKEN | templater login URL``)."""
    if given is None:
        if sys.stdin.isatty():
            import getpass

            try:
                given = getpass.getpass("API token: ")
            except EOFError:
                given = ""
        else:
            given = sys.stdin.readline()
    token = given.strip()
    if not token:
        raise UsageError(
            "login needs an API token: give --token TOKEN, type it when asked, or pipe it on stdin"
        )
    return token


def _login(args: argparse.Namespace) -> int:
    from templater.provisioning.client import Client, ClientError, NotAControlPlane
    from templater.provisioning.credentials import Credentials, save_credentials

    credentials = Credentials(args.url.rstrip("/"), _token(args.token))
    client = Client(credentials)
    try:
        user = client.me()
    except NotAControlPlane:
        raise  # it names the URL already
    except ClientError as problem:
        raise Failure(f"cannot sign in to {credentials.url}: {problem.message}") from None
    finally:
        client.close()
    path = save_credentials(credentials)
    print(
        f"Signed in to {credentials.url} as {user.name} ({user.role}); credentials saved in {path}"
    )
    return EXIT_OK


def _template_directory(path: str) -> Path:
    return module_directories([path])[0]


def _planned(args: argparse.Namespace, client: Client) -> Any:
    from templater.provisioning.workflow import WorkflowError, make_plan

    try:
        return make_plan(
            client,
            _template_directory(args.path),
            args.workspace,
            args.owner,
            evaluation_options(args),
        )
    except WorkflowError as problem:
        raise Failure(str(problem)) from None


def _plan(args: argparse.Namespace) -> int:
    from templater.provisioning.workflow import show_plan

    sys.stdout.write(show_plan(_planned(args, connect())))
    return EXIT_OK


def _confirm(question: str, cancelled: str) -> None:
    """Go on only when the answer is "yes": another answer is a Failure, Ctrl-C an Interrupted,
    both saying ``cancelled``."""
    print(f"{question}\n  Only 'yes' will be accepted to approve.\n")
    try:
        answer = input("  Enter a value: ")
    except EOFError:
        answer = ""
    except KeyboardInterrupt:
        raise Interrupted(cancelled) from None
    if answer.strip() != "yes":
        raise Failure(cancelled)


def _apply(args: argparse.Namespace) -> int:
    from templater.provisioning.workflow import apply_plan, show_plan

    client = connect()
    plan = _planned(args, client)
    sys.stdout.write(show_plan(plan))
    if not plan.changes:
        return EXIT_OK
    if not args.auto_approve:
        _confirm("Do you want to perform these actions?", "Apply cancelled.")
    sys.stdout.write(apply_plan(client, plan))
    return EXIT_OK


def _destroy(args: argparse.Namespace) -> int:
    client = connect()
    owner = args.owner or client.me().name
    current = client.workspace(owner, args.workspace)
    if current is None:
        raise Failure(f"there is no workspace {owner}/{args.workspace}")
    for agent in current.agents:
        print(f"  - agent.{agent.name}")
    for app in current.apps:
        print(f"  - app.{app.slug}")
    print(
        f"\nPlan: 0 to add, 0 to change, 0 to replace, {len(current.agents) + len(current.apps)} to destroy."
    )
    if not args.auto_approve:
        _confirm(f"Do you really want to destroy {owner}/{args.workspace}?", "Destroy cancelled.")
    client.destroy(owner, args.workspace, current.version)
    print(f"Destroy complete! Workspace {owner}/{args.workspace} is gone.")
    return EXIT_OK


_APP_COLUMNS = ("workspace", "agent", "state", "slug", "share", "URL", "health")
"""``state`` is the agent's: connecting, connected, disconnected or timeout."""


def _app_rows(apps: list[AppRecord]) -> list[tuple[str, ...]]:
    return [
        (
            f"{app.owner}/{app.workspace}",
            app.agent,
            app.agent_state,
            app.slug,
            app.share,
            app.access_url or "",
            app.health,
        )
        for app in apps
    ]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _apps(args: argparse.Namespace) -> int:
    client = connect()
    if args.watch:
        _watch(client, args)
        return EXIT_OK
    apps = client.apps(args.owner, args.workspace)
    if args.json:
        rows = [
            {
                "workspace": app.workspace,
                "owner": app.owner,
                "agent": app.agent,
                "slug": app.slug,
                "share": app.share,
                "subdomain": app.subdomain,
                "url": app.access_url,
                "target": app.url,
                "health": app.health,
                "agent_state": app.agent_state,
                "agent_state_changed_at": _iso(app.agent_state_changed_at),
            }
            for app in apps
        ]
        print_json(rows)
    elif apps:
        print_table(_APP_COLUMNS, _app_rows(apps), "URL")
    else:
        print("No apps.")
    return EXIT_OK


def _watch(client: Client, args: argparse.Namespace) -> None:
    """The apps again on every change the server streams, until Ctrl-C: redrawn in place on a
    terminal wide enough for their URLs, else printed anew below the last."""
    from rich.console import Console
    from rich.live import Live

    live: Live | None = None
    try:
        for current in client.watch_apps(args.owner, args.workspace):
            room = shutil.get_terminal_size().columns
            table, width = terminal_table(_APP_COLUMNS, _app_rows(current), "URL", room)
            if sys.stdout.isatty() and width <= room:
                if live is None:
                    live = Live(console=Console(), auto_refresh=False)
                    live.start()
                live.update(table, refresh=True)
                continue
            if live is not None:
                live.stop()
                live = None
            print_table(_APP_COLUMNS, _app_rows(current), "URL")
    except KeyboardInterrupt:
        pass
    finally:
        if live is not None:
            live.stop()


def _url(args: argparse.Namespace) -> int:
    client = connect()
    owner = args.owner or client.me().name
    for app in client.apps(owner, args.workspace):
        if app.slug == args.slug:
            if not app.access_url:
                raise Failure(f"app {args.slug} is a command, not served at a URL")
            print(app.access_url)
            return EXIT_OK
    raise Failure(f"workspace {owner}/{args.workspace} has no app {args.slug}")


_SHARED_WITH = {"authenticated": "with authenticated users", "public": "publicly"}


def _port_of(args: argparse.Namespace) -> tuple[Client, str, str]:
    """The client, the workspace's owner and the agent a ``ports`` command acts on: the agent
    named with --agent, else the workspace's only agent."""
    client = connect()
    owner = args.owner or client.me().name
    if args.agent is not None:
        return client, owner, args.agent
    current = client.workspace(owner, args.workspace)
    if current is None:
        raise Failure(f"there is no workspace {owner}/{args.workspace}")
    names = [each.name for each in current.agents]
    if len(names) == 1:
        return client, owner, names[0]
    if not names:
        raise Failure(f"workspace {owner}/{args.workspace} has no agents")
    raise Failure(
        f"workspace {owner}/{args.workspace} has agents {', '.join(names)}: choose one with --agent"
    )


def _share_port(args: argparse.Namespace) -> int:
    client, owner, agent = _port_of(args)
    shared = client.share_port(owner, args.workspace, agent, args.port, args.level)
    print(
        f"Shared port {shared.port} of agent {shared.agent} in {owner}/{args.workspace} "
        f"{_SHARED_WITH.get(shared.share, shared.share)}"
    )
    return EXIT_OK


def _unshare_port(args: argparse.Namespace) -> int:
    client, owner, agent = _port_of(args)
    client.unshare_port(owner, args.workspace, agent, args.port)
    print(
        f"Port {args.port} of agent {agent} in {owner}/{args.workspace} is no longer shared: "
        "only its owner reaches it"
    )
    return EXIT_OK


def _list_ports(args: argparse.Namespace) -> int:
    client = connect()
    owner = args.owner or client.me().name
    shares = client.ports(owner, args.workspace)
    if not shares:
        print(f"No shared ports in {owner}/{args.workspace}.")
        return EXIT_OK
    rows = [(share.agent, str(share.port), share.share) for share in shares]
    print_table(("agent", "port", "share"), rows)
    return EXIT_OK


def _agent_token(args: argparse.Namespace) -> int:
    client = connect()
    owner = args.owner or client.me().name
    agent = agent_of(
        client, owner, args.workspace, args.agent, f"templater agents token {args.workspace} AGENT"
    )
    token = client.issue_agent_token(owner, args.workspace, agent)
    print(
        f"New token for agent {agent} of {owner}/{args.workspace}; the previous one no longer "
        "works. Shown only this once:"
    )
    print(token)
    return EXIT_OK


def _agent_json(agent: AgentRecord) -> dict[str, Any]:
    return {
        "owner": agent.owner,
        "workspace": agent.workspace,
        "name": agent.name,
        "state": agent.state,
        "state_changed_at": agent.state_changed_at.isoformat(),
        "version": agent.version,
        "os": agent.os,
        "arch": agent.arch,
        "hostname": agent.hostname,
        "ports": [{"port": each.port, "process": each.process} for each in agent.ports],
        "ssh_host_key": agent.ssh_host_key,
    }


def _list_agents(args: argparse.Namespace) -> int:
    agents = connect().agents(args.owner, args.workspace)
    if args.json:
        print_json([_agent_json(agent) for agent in agents])
    elif agents:
        rows = [
            (
                f"{agent.owner}/{agent.workspace}",
                agent.name,
                agent.state,
                since(agent.state_changed_at),
                agent.version or "-",
                agent.os or "-",
            )
            for agent in agents
        ]
        print_table(("workspace", "agent", "state", "since", "version", "os"), rows)
    else:
        print("No agents.")
    return EXIT_OK


def add_commands(commands: Any) -> None:
    """Add the control-plane commands to the CLI's subcommands."""
    server = commands.add_parser(
        "server",
        help="run the control plane: registry, API, health monitor, app router",
        description="Run the control plane on the embedded SQLite database (or PostgreSQL).",
    )
    server.add_argument("--data-dir", type=Path, help="where the database and admin token live")
    server.add_argument(
        "--listen", default="127.0.0.1:7080", help="HOST:PORT (default 127.0.0.1:7080)"
    )
    server.add_argument(
        "--listen-unix",
        metavar="PATH",
        help="serve on this Unix socket too (for a reverse proxy in front of templater, or "
        "agents that reach the server only through a socket: templater agent --unix-socket)",
    )
    server.add_argument("--access-url", help="the URL users reach templater at")
    server.add_argument(
        "--wildcard-access-url",
        help="hostname pattern for subdomain apps, such as *.apps.example.com",
    )
    server.add_argument("--database", help="postgresql://USER@HOST:PORT/NAME instead of SQLite")
    server.add_argument(
        "--workers",
        type=int,
        help="processes serving the front port, apps and API alike (default: one per CPU)",
    )
    server.add_argument(
        "--max-body",
        metavar="SIZE",
        help="the largest request body the API reads, such as 16M (default) or 512K; a larger "
        "one is refused with 413 before it is read",
    )
    server.add_argument(
        "--max-apps-per-workspace",
        type=int,
        metavar="N",
        help="the most apps one workspace may have (default 100); an apply over it is refused",
    )
    server.add_argument(
        "--max-workspaces-per-user",
        type=int,
        metavar="N",
        help="the most workspaces one user may have (default 25), admins included",
    )
    server.add_argument(
        "--max-checks-per-second",
        type=int,
        metavar="N",
        help="the most health checks a second one agent may run (default 20): the sum of "
        "1 / interval over its apps' healthchecks; also the rate its health reports are stored at",
    )
    server.add_argument(
        "--max-streams-per-agent",
        type=int,
        metavar="N",
        help="the most SSH connections and port-forward streams one agent may have open at once "
        "(default 300); the next one is refused with 429 until one closes",
    )
    server.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="the log on stderr: a line of text per event (default), or a JSON object per line",
    )
    server.set_defaults(run=_server)

    login = commands.add_parser(
        "login",
        help="sign in to a control plane with an API token",
        description="Check an API token with the control plane at URL and save both, readable "
        "by you only, for the other commands. TEMPLATER_URL and TEMPLATER_TOKEN, when set, take "
        "their place.",
    )
    login.add_argument("url", metavar="URL", help="the control plane, such as http://HOST:7080")
    login.add_argument(
        "--token",
        help="the API token (default: asked for without echo on a terminal, else read as one "
        "line from stdin)",
    )
    login.set_defaults(run=guarded(_login))

    for name, handler, summary in (
        ("plan", _plan, "show what applying a template to a workspace would change"),
        ("apply", _apply, "provision a template's agents and apps into a workspace"),
    ):
        command = server_command(commands, name, summary)
        command.add_argument("path", metavar="PATH", help="template directory or file")
        command.add_argument("--workspace", required=True, help="workspace name")
        command.add_argument("--owner", help=_OWNER)
        if name == "apply":
            command.add_argument("--auto-approve", action="store_true", help="do not ask")
        add_evaluation_options(command, workspace=False)
        command.set_defaults(run=guarded(handler))

    destroy = server_command(commands, "destroy", "remove a workspace's agents and apps")
    destroy.add_argument("--workspace", required=True, help="the workspace to empty")
    destroy.add_argument("--owner", help=_OWNER)
    destroy.add_argument("--auto-approve", action="store_true", help="do not ask")
    destroy.set_defaults(run=guarded(_destroy))

    apps = server_command(
        commands, "apps", "list apps with their URLs, health and their agents' states"
    )
    apps.add_argument("--workspace", help="only this workspace's apps")
    apps.add_argument("--owner", help="only this user's apps (default: all you may see)")
    shown = apps.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="a JSON list instead of a table")
    shown.add_argument(
        "--watch", action="store_true", help="keep the table up to date as health changes"
    )
    apps.set_defaults(run=guarded(_apps))

    url = server_command(commands, "url", "print the URL an app is served at")
    url.add_argument("workspace", metavar="WORKSPACE", help="the app's workspace")
    url.add_argument("slug", metavar="SLUG", help="the app's slug")
    url.add_argument("--owner", help=_OWNER)
    url.set_defaults(run=guarded(_url))

    ports = server_command(
        commands,
        "ports",
        "share a workspace's ports beyond its owner",
        "Ports are reached by their owner only, unless shared.",
    )
    ports_commands = ports.add_subparsers(dest="ports_command", metavar="COMMAND", required=True)
    share = server_command(ports_commands, "share", "share a port, or change its level")
    unshare = server_command(ports_commands, "unshare", "make a port owner-only again")
    listed = server_command(ports_commands, "list", "list a workspace's shared ports")
    for command in (share, unshare, listed):
        command.add_argument("workspace", metavar="WORKSPACE", help="the workspace")
        if command is not listed:
            command.add_argument("port", metavar="PORT", type=int, help="the port's number")
            command.add_argument("--agent", help="the agent (default: the workspace's only agent)")
        command.add_argument("--owner", help=_OWNER)
    share.add_argument(
        "--level",
        required=True,
        choices=PORT_SHARE_LEVELS,
        help="authenticated: every signed-in user; public: everyone",
    )
    share.set_defaults(run=guarded(_share_port))
    unshare.set_defaults(run=guarded(_unshare_port))
    listed.set_defaults(run=guarded(_list_ports))

    agents = server_command(
        commands,
        "agents",
        "workspace agents: their tokens and states",
        "Every agent of an applied workspace connects to the control plane with a token of its\n"
        "own. Its state is connecting (applied, never connected), connected, disconnected\n"
        "(connected before, not now) or timeout (never connected within its connection_timeout).",
    )
    agents_commands = agents.add_subparsers(dest="agents_command", metavar="COMMAND", required=True)
    token = server_command(
        agents_commands,
        "token",
        "issue a new token for an agent and print it (the previous one ends)",
        "Issue a new token for an agent and print it alone on the last line: give it to\n"
        "`templater agent` as TEMPLATER_AGENT_TOKEN. The agent's previous token ends, and any\n"
        "connection made with it.",
    )
    token.add_argument("workspace", metavar="WORKSPACE", help="the agent's workspace")
    token.add_argument(
        "agent", metavar="AGENT", nargs="?", help="the agent (default: the workspace's only agent)"
    )
    token.add_argument("--owner", help=_OWNER)
    token.set_defaults(run=guarded(_agent_token))
    listed = server_command(agents_commands, "list", "list agents with their states")
    listed.add_argument("--workspace", help="only this workspace's agents")
    listed.add_argument("--owner", help="only this user's agents (default: all you may see)")
    listed.add_argument("--json", action="store_true", help="a JSON list instead of a table")
    listed.set_defaults(run=guarded(_list_agents))


_OWNER = "workspace owner (default: you)"
