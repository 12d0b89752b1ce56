"""The ``templater`` command line: a thin shell over the engine, lint, provisioning and the
server. Each command imports what it needs when it runs, so that start-up stays fast for the
editor and pre-commit."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from templater.cli.common import (
    ENVIRONMENT,
    EXIT_FINDINGS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    Failure,
    Interrupted,
    UsageError,
)


class _Version(argparse.Action):
    """--version: the installed distribution's version, looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **_: Any) -> None:
        super().__init__(
            option_strings,
            argparse.SUPPRESS,
            nargs=0,
            default=argparse.SUPPRESS,
            help="print templater's version and exit",
        )

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            installed = version("templater")
        except PackageNotFoundError:  # run from a source tree that was never installed
            installed = "(version unknown: not installed)"
        print(f"templater {installed}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    from templater.cli import accounts, agent, control, forward, lint, ssh

    parser = argparse.ArgumentParser(
        prog="templater",
        description="Lint, inspect and provision Coder workspace app templates.",
        epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_Version)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    lint.add_commands(commands)
    control.add_commands(commands)
    accounts.add_commands(commands)
    agent.add_commands(commands)
    forward.add_commands(commands)
    ssh.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if len(arguments) == 3 and arguments[:2] == ["ssh", "--stdio"]:
        # OpenSSH's ProxyCommand, run once per connection: straight to it, without importing
        # and building every command's parser first.
        from templater.cli.ssh_stdio import run_stdio

        return run_stdio(arguments[2])
    try:
        args = build_parser().parse_args(arguments)
        status: int = args.run(args)
    except UsageError as problem:
        print(f"templater: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except Failure as problem:
        print(f"templater: {problem}", file=sys.stderr)
        return EXIT_FINDINGS
    except BrokenPipeError:
        return EXIT_OK
    except Interrupted as stop:
        return _interrupted(str(stop))
    except KeyboardInterrupt:
        return _interrupted("interrupted")
    return status


def _interrupted(message: str) -> int:
    """Ctrl-C: one line, no traceback. On a terminal it starts on a line of its own, not after
    the prompt or the output it cut short."""
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    print(f"templater: {message}", file=sys.stderr)
    return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
