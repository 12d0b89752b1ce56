"""What every command of the CLI shares: exit statuses, the errors a command reports, and the
evaluation options (variables, workspace, parameters) that lint, inspect, plan and apply take."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from templater.engine.options import EvalOptions

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130
"""128 + SIGINT: what a shell reports for a command that Ctrl-C stopped."""


class UsageError(Exception):
    """Bad command-line input: reported on stderr, exit status 2."""


class Failure(Exception):
    """A command that could not do its job; its message is for the user (exit status 1)."""


class Interrupted(Exception):
    """Ctrl-C stopped a command at a point it can say something about: its message on stderr,
    exit status 130. Any other KeyboardInterrupt is reported the same way, as "interrupted"."""


ENVIRONMENT = """\
environment:
  TEMPLATER_URL    the control plane's URL, instead of the one `templater login` saved
  TEMPLATER_TOKEN  the API token to send, instead of the one `templater login` saved
"""
"""The end of the help of the CLI and of each command that talks to the control plane."""


def add_evaluation_options(parser: argparse.ArgumentParser, workspace: bool = True) -> None:
    group = parser.add_argument_group("evaluation")
    group.add_argument(
        "--var", action="append", default=[], metavar="NAME=VALUE", help="set a root variable"
    )
    group.add_argument(
        "--var-file",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="read root variables from a .tfvars or .tfvars.json file",
    )
    if workspace:
        group.add_argument("--workspace", help="workspace name (data.coder_workspace.me.name)")
        group.add_argument("--owner", help="workspace owner (data.coder_workspace_owner.me.name)")
    group.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="value of a data.coder_parameter",
    )


def evaluation_options(args: argparse.Namespace) -> EvalOptions:
    from templater.engine.options import EvalOptions, InputOptions, parse_var_assignment

    try:
        variables = [parse_var_assignment(text) for text in args.var]
        parameters = dict(parse_var_assignment(text, "--param") for text in args.param)
    except ValueError as problem:
        raise UsageError(str(problem)) from None
    for path in args.var_file:
        if not path.is_file():
            raise UsageError(f"--var-file {path}: no such file")
    return EvalOptions(
        inputs=InputOptions(variables=variables, var_files=args.var_file),
        workspace=args.workspace,
        owner=args.owner,
        parameters=parameters,
    )


def module_directories(
    paths: Sequence[str], recursive: bool = False, exclude: Sequence[str] = ()
) -> list[Path]:
    """The module directories that PATH arguments name: a file stands for its directory; a
    directory with no Terraform files of its own, or any with ``recursive``, stands for every
    module below it that no ``exclude`` pattern matches."""
    from templater.engine.files import holds_module, modules_below

    directories: list[Path] = []
    for text in paths:
        path = Path(text)
        if path.is_file():
            found = [path.parent]
        elif not path.is_dir():
            raise UsageError(f"{text}: no such file or directory")
        elif recursive or not holds_module(path):
            found = [d for d in modules_below(path) if not _excluded(d, exclude)]
            if not found:
                raise UsageError(
                    f"{text}: no Terraform files (*.tf, *.tf.json) here or in any directory below"
                    + (" that --exclude leaves" if exclude else "")
                )
        else:
            found = [path]
        directories.extend(found)
    return list(dict.fromkeys(directories))


def _excluded(directory: Path, patterns: Sequence[str]) -> bool:
    """Whether a pattern matches the directory or one above it: a pattern with a slash against
    the path as given (``examples/broken``), one without against a directory's name."""
    from fnmatch import fnmatchcase

    for pattern in patterns:
        pattern = os.path.normpath(pattern)
        for place in (directory, *directory.parents):
            if fnmatchcase(str(place) if os.sep in pattern else place.name, pattern):
                return True
    return False
