"""The ``templater`` command line. Each command imports what it needs when it runs, so that
start-up stays fast for the editor and pre-commit."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from templater.server.records import SHARE_LEVELS

if TYPE_CHECKING:
    from templater.options import EvalOptions
    from templater.report import LintReport

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad command-line input: reported on stderr, exit status 2."""


class Failure(Exception):
    """A command that could not do its job; its message is for the user (exit status 1)."""


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
    from templater.options import EvalOptions, InputOptions, parse_var_assignment

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


def module_directories(paths: Sequence[str]) -> list[Path]:
    """The module directories that PATH arguments name: a file stands for its directory."""
    directories: list[Path] = []
    for text in paths:
        path = Path(text)
        if path.is_file():
            path = path.parent
        elif not path.is_dir():
            raise UsageError(f"{text}: no such file or directory")
        if path not in directories:
            directories.append(path)
    return directories


def _inspect(args: argparse.Namespace) -> int:
    from templater.diagnostics import Severity, merge_instances
    from templater.evaluate import evaluate_template
    from templater.inspection import inspected, resource_json, resource_text

    options = evaluation_options(args)
    results: list[dict[str, object]] = []
    failed = False
    for directory in module_directories(args.paths):
        evaluation = evaluate_template(directory, options)
        for diagnostic in merge_instances(evaluation.diagnostics, evaluation.instance_counts()):
            span = diagnostic.span
            print(
                f"{span.file}:{span.line}:{span.column}: {diagnostic.severity.value}"
                f"[{diagnostic.rule}] {diagnostic.message}",
                file=sys.stderr,
            )
            failed = failed or diagnostic.severity is Severity.ERROR
        for resource in inspected(evaluation):
            if args.format == "json":
                results.append(resource_json(resource))
            else:
                print(resource_text(resource), end="\n\n")
    if args.format == "json":
        json.dump(results, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    return EXIT_FINDINGS if failed else EXIT_OK


def _color(stream: object) -> bool:
    """Colour on a terminal, unless NO_COLOR asks otherwise; FORCE_COLOR forces it."""
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _lint(args: argparse.Namespace) -> int:
    from templater.cache import default_cache_directory
    from templater.options import LintOptions
    from templater.report import combine, fails

    options = LintOptions(evaluation_options(args), args.max_share)
    directories = module_directories(args.paths or ["."])
    cache = None if args.no_cache else default_cache_directory()
    results = dict.fromkeys(directories)
    if cache is not None:
        # A warm run answers from the result cache without loading the engine at all.
        from templater.resultcache import ResultCache

        results = {
            directory: ResultCache(cache).lookup(directory, options) for directory in directories
        }
    missing = [directory for directory, result in results.items() if result is None]
    if missing:
        from templater.lint import lint_directories

        results.update(
            zip(missing, lint_directories(missing, options, cache, args.jobs), strict=True)
        )
    report = combine(result for result in results.values() if result is not None)
    sys.stdout.write(_render(args.format, report))
    return EXIT_FINDINGS if fails(report.diagnostics, args.strict) else EXIT_OK


def _render(format: str, report: LintReport) -> str:
    from templater.reporters import render

    if format == "sarif":  # only SARIF describes the rules, and the catalogue loads the engine
        from templater.rules import RULES

        return render(format, report, RULES, color=False)
    return render(format, report, {}, color=_color(sys.stdout))


def _rules(args: argparse.Namespace) -> int:
    import difflib

    from templater.rules import RULES

    if args.rule is None:
        width = max(len(rule_id) for rule_id in RULES)
        for rule in sorted(RULES.values(), key=lambda r: r.id):
            print(f"{rule.id.ljust(width)}  {rule.severity.value:<7}  {rule.summary}")
        return EXIT_OK
    explained = RULES.get(args.rule)
    if explained is None:
        close = difflib.get_close_matches(args.rule, RULES, n=1)
        hint = f'; did you mean "{close[0]}"?' if close else "; `templater rules` lists them"
        raise UsageError(f'there is no rule "{args.rule}"{hint}')
    print(
        f"{explained.id} ({explained.severity.value}): {explained.summary}\n\n{explained.explanation}"
    )
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="templater", description="Lint, inspect and provision Coder workspace app templates."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    inspect = commands.add_parser(
        "inspect",
        help="show the coder_agent and coder_app resources as the engine resolves them",
        description="Evaluate templates as Terraform would and show every coder_agent and "
        "coder_app with each attribute's value (unknown ones as such) and source position.",
    )
    inspect.add_argument("paths", nargs="+", metavar="PATH", help="template directory or file")
    inspect.add_argument("--format", choices=("text", "json"), default="text")
    add_evaluation_options(inspect)
    inspect.set_defaults(run=_inspect)

    lint = commands.add_parser(
        "lint",
        help="check templates: JSON Schemas and semantic rules, with exact positions",
        description="Evaluate templates as Terraform would and check every coder_app and "
        "coder_agent. Exit status: 0 no error, 1 findings, 2 usage error or unreadable path.",
    )
    lint.add_argument(
        "paths", nargs="*", metavar="PATH", help="template directory or file (default: .)"
    )
    lint.add_argument(
        "--format",
        choices=("text", "json", "sarif", "github"),
        default="text",
        help="output format (default: text)",
    )
    lint.add_argument("--strict", action="store_true", help="warnings fail the run too")
    lint.add_argument(
        "--max-share",
        choices=SHARE_LEVELS,
        help="the most open share level this deployment allows",
    )
    lint.add_argument(
        "--no-cache", action="store_true", help="parse every file again instead of using the cache"
    )
    lint.add_argument(
        "--jobs", type=int, metavar="N", help="directories linted at once (default: the cores)"
    )
    add_evaluation_options(lint)
    lint.set_defaults(run=_lint)

    rules = commands.add_parser(
        "rules",
        help="list the lint rules, or explain one",
        description="List every lint rule with its severity, or explain one rule.",
    )
    rules.add_argument("rule", nargs="?", metavar="RULE", help="a rule ID to explain")
    rules.set_defaults(run=_rules)

    from templater import cli_control

    cli_control.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.run(args)
    except UsageError as problem:
        print(f"templater: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except Failure as problem:
        print(f"templater: {problem}", file=sys.stderr)
        return EXIT_FINDINGS
    except BrokenPipeError:
        return EXIT_OK
    return status


if __name__ == "__main__":
    sys.exit(main())
