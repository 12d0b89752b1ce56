"""The account commands of the CLI: ``users`` (create, list, suspend, activate) and ``tokens``
(create, list, revoke)."""

from __future__ import annotations

import argparse
import re
from typing import Any

from templater.cli.common import EXIT_OK
from templater.cli.remote import (
    connect,
    guarded,
    print_json,
    print_table,
    record_json,
    server_command,
    since,
)

_SELF = "me"
"""What the API reads as the user who asks."""

_LIFETIME = re.compile(r"([1-9][0-9]{0,9})([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def lifetime_seconds(text: str) -> int:
    """``30d``, ``12h``, ``90m`` or ``3600s`` in seconds."""
    match = _LIFETIME.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a lifetime: write a number and a unit, s, m, h or d (30d, 12h)"
        )
    return int(match[1]) * _UNIT_SECONDS[match[2]]


def _create_user(args: argparse.Namespace) -> int:
    role, token = connect().create_user(args.name, args.admin)
    print(f"Created {role} {args.name}. Their token, shown only this once:")
    print(token)
    return EXIT_OK


def _list_users(args: argparse.Namespace) -> int:
    users = connect().users()
    if args.json:
        print_json([record_json(user) for user in users])
        return EXIT_OK
    rows = [(user.name, user.role, user.status, since(user.created_at)) for user in users]
    print_table(("name", "role", "status", "created"), rows)
    return EXIT_OK


def _suspend(args: argparse.Namespace) -> int:
    connect().set_user_status(args.name, "suspended")
    print(
        f"Suspended {args.name}: their API tokens, browser sessions and app cookies no longer work."
    )
    return EXIT_OK


def _activate(args: argparse.Namespace) -> int:
    connect().set_user_status(args.name, "active")
    print(f"Activated {args.name}: their API tokens work again; in a browser they sign in anew.")
    return EXIT_OK


def _create_token(args: argparse.Namespace) -> int:
    record, token = connect().create_token(args.user, args.name, args.lifetime)
    whose = "you" if args.user == _SELF else args.user
    name = f" ({record.name})" if record.name else ""
    until = f"until {since(record.expires_at)}" if record.expires_at else "until revoked"
    print(f"Created token {record.id}{name} for {whose}, {until}. Shown only this once:")
    print(token)
    return EXIT_OK


def _list_tokens(args: argparse.Namespace) -> int:
    tokens = connect().tokens(args.user)
    if args.json:
        print_json([record_json(token) for token in tokens])
        return EXIT_OK
    rows = [
        (
            str(token.id),
            token.name or "-",
            since(token.created_at),
            since(token.expires_at) if token.expires_at else "never",
            since(token.last_used_at) if token.last_used_at else "never",
        )
        for token in tokens
    ]
    print_table(("id", "name", "created", "expires", "last used"), rows)
    return EXIT_OK


def _revoke_token(args: argparse.Namespace) -> int:
    connect().revoke_token(args.user, args.id)
    whose = "your" if args.user == _SELF else f"{args.user}'s"
    print(f"Revoked {whose} token {args.id}: it no longer works.")
    return EXIT_OK


def add_commands(commands: Any) -> None:
    users = server_command(commands, "users", "manage users (admins only)")
    users_commands = users.add_subparsers(dest="users_command", metavar="COMMAND", required=True)
    create = server_command(users_commands, "create", "create a user and print their token")
    create.add_argument("name", metavar="NAME", help="their user name")
    create.add_argument("--admin", action="store_true", help="an admin rather than a member")
    create.set_defaults(run=guarded(_create_user))
    listed = server_command(users_commands, "list", "list users with their roles and status")
    listed.add_argument("--json", action="store_true", help="a JSON list instead of a table")
    listed.set_defaults(run=guarded(_list_users))
    suspend = server_command(
        users_commands,
        "suspend",
        "suspend a user: their tokens, sessions and app cookies stop working at once",
    )
    suspend.add_argument("name", metavar="NAME", help="their user name")
    suspend.set_defaults(run=guarded(_suspend))
    activate = server_command(
        users_commands, "activate", "make a suspended user active again (their tokens work)"
    )
    activate.add_argument("name", metavar="NAME", help="their user name")
    activate.set_defaults(run=guarded(_activate))

    tokens = server_command(commands, "tokens", "your API tokens (admins: anyone's)")
    tokens_commands = tokens.add_subparsers(dest="tokens_command", metavar="COMMAND", required=True)
    whose = "whose tokens (admins only; default: yours)"
    create = server_command(
        tokens_commands,
        "create",
        "create an API token and print it",
        "Create an API token and print it alone on the last line (shown only this once): sign\n"
        "in with it (`templater login URL`, which reads it on stdin) or set TEMPLATER_TOKEN.",
    )
    create.add_argument("--name", default="", help="what it is for (a machine, a CI job)")
    create.add_argument(
        "--lifetime",
        type=lifetime_seconds,
        metavar="DURATION",
        help="how long it works: 30d, 12h, 90m, 3600s (default: until revoked)",
    )
    create.add_argument("--user", default=_SELF, help=whose)
    create.set_defaults(run=guarded(_create_token))
    listed = server_command(
        tokens_commands, "list", "list API tokens: names, creation, expiry and last use"
    )
    listed.add_argument("--user", default=_SELF, help=whose)
    listed.add_argument("--json", action="store_true", help="a JSON list instead of a table")
    listed.set_defaults(run=guarded(_list_tokens))
    revoke = server_command(tokens_commands, "revoke", "end an API token at once")
    revoke.add_argument("id", metavar="ID", type=int, help="the token's id (tokens list)")
    revoke.add_argument("--user", default=_SELF, help=whose)
    revoke.set_defaults(run=guarded(_revoke_token))
