"""What the CLI's control-plane commands share: the client from the saved credentials, their
refusals as messages, their help, and tables that fit the terminal."""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from templater.cli.common import ENVIRONMENT, Failure, UsageError

if TYPE_CHECKING:
    from datetime import datetime

    from rich.table import Table

    from templater.provisioning.client import Client


def connect() -> Client:
    from templater.provisioning.client import Client
    from templater.provisioning.credentials import NotSignedIn, load_credentials

    try:
        return Client(load_credentials())
    except NotSignedIn as problem:
        raise Failure(str(problem)) from None


def agent_of(client: Client, owner: str, workspace: str, agent: str | None, how: str) -> str:
    """``agent`` if the workspace has it, or else the workspace's only agent; a usage error
    naming them when it has several (``how`` shows how to name one)."""
    current = client.workspace(owner, workspace)
    if current is None:
        raise Failure(f"there is no workspace {owner}/{workspace}")
    names = [each.name for each in current.agents]
    if agent is not None and agent not in names:
        raise Failure(f"workspace {owner}/{workspace} has no agent {agent}")
    if agent is not None or len(names) == 1:
        return agent or names[0]
    if not names:
        raise Failure(f"workspace {owner}/{workspace} has no agents")
    raise UsageError(
        f"workspace {owner}/{workspace} has agents {', '.join(names)}: name one ({how})"
    )


def print_json(value: Any) -> None:
    """``value`` as indented JSON on stdout, for ``--json``."""
    import json

    json.dump(value, sys.stdout, indent=2)
    sys.stdout.write("\n")


def record_json(record: Any) -> dict[str, Any]:
    """A record (a dataclass) as JSON takes it: its fields, times in ISO 8601."""
    from dataclasses import asdict
    from datetime import datetime

    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in asdict(record).items()
    }


def guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Report the control plane's refusals and the workflow's stops as messages, not tracebacks."""

    def run(args: argparse.Namespace) -> int:
        from templater.provisioning.client import ClientError

        try:
            return command(args)
        except ClientError as problem:
            raise Failure(problem.message) from None

    return run


_NARROWEST = 6
"""How narrow a table's columns beside the URLs may get, to leave the URLs whole."""


def _plain_table(columns: Sequence[str], rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(map(len, cells)) for cells in zip(columns, *rows, strict=True)]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        + "\n"
        for row in (tuple(columns), *rows)
    )


def terminal_table(
    columns: Sequence[str], rows: Sequence[tuple[str, ...]], whole: str | None, room: int
) -> tuple[Table, int]:
    """A table for a terminal ``room`` characters wide, and the width it needs. The ``whole``
    column (the URLs) is never folded or cut: the others fold to make room, down to _NARROWEST,
    and when that is not enough the table is wider than the terminal."""
    from rich.table import Table
    from rich.text import Text

    padding = 2 * len(columns)  # a space either side of each column
    widths = [max(map(len, cells)) for cells in zip(columns, *rows, strict=True)]
    floors = [
        width if column == whole else min(width, _NARROWEST)
        for column, width in zip(columns, widths, strict=True)
    ]
    while sum(widths) + padding > room and widths != floors:
        shrinkable = [index for index, width in enumerate(widths) if width > floors[index]]
        widths[max(shrinkable, key=widths.__getitem__)] -= 1
    table = Table(box=None)
    for column, width in zip(columns, widths, strict=True):
        table.add_column(column, width=width, no_wrap=column == whole, overflow="fold")
    for row in rows:
        table.add_row(*map(Text, row))  # as written: no markup, no highlighting
    return table, sum(widths) + padding


def print_table(
    columns: Sequence[str], rows: Sequence[tuple[str, ...]], whole: str | None = None
) -> None:
    """Rows in plain columns, one a line, when stdout is not a terminal, whatever its width; on
    a terminal, a table that fits it, but never at the cost of the ``whole`` column."""
    if not sys.stdout.isatty():
        sys.stdout.write(_plain_table(columns, rows))
        sys.stdout.flush()
        return
    from rich.console import Console

    room = shutil.get_terminal_size().columns
    table, width = terminal_table(columns, rows, whole, room)
    Console(width=max(width, room)).print(table)


def since(moment: datetime) -> str:
    """A time in UTC to the second, as ISO 8601 (one word, for plain columns)."""
    from datetime import UTC

    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def server_command(
    commands: Any, name: str, summary: str, description: str | None = None
) -> argparse.ArgumentParser:
    """A command that talks to the control plane: its help ends with the environment it reads."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=description or summary,
        epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser
