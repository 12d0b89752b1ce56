"""The template author's commands: lint, inspect and rules."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from templater.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    UsageError,
    add_evaluation_options,
    evaluation_options,
    module_directories,
)
from templater.model.levels import SHARE_LEVELS

if TYPE_CHECKING:
    from templater.lint.report import LintReport


def _inspect(args: argparse.Namespace) -> int:
    from templater.engine.diagnostics import Severity, merge_instances
    from templater.engine.evaluate import evaluate_template
    from templater.engine.inspection import inspected, resource_json, resource_text

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
    from templater.engine.options import LintOptions
    from templater.lint.cache import default_cache_directory
    from templater.lint.report import combine, fails

    options = LintOptions(evaluation_options(args), args.max_share, args.provider_version)
    directories = module_directories(args.paths or ["."], args.recursive, args.exclude)
    cache = None if args.no_cache else default_cache_directory()
    results = dict.fromkeys(directories)
    if cache is not None:
        # A warm run answers from the result cache without loading the engine at all.
        from templater.lint.resultcache import ResultCache

        results_cache = ResultCache(cache)
        results = {directory: results_cache.lookup(directory, options) for directory in directories}
    missing = [directory for directory, result in results.items() if result is None]
    if missing:
        from templater.lint.runner import lint_directories

        results.update(
            zip(missing, lint_directories(missing, options, cache, args.jobs), strict=True)
        )
    report = combine(result for result in results.values() if result is not None)
    sys.stdout.write(_render(args.format, report))
    return EXIT_FINDINGS if fails(report.diagnostics, args.strict) else EXIT_OK


def _render(format: str, report: LintReport) -> str:
    from templater.lint.reporters import render

    if format == "sarif":  # only SARIF describes the rules, and the catalogue loads the engine
        from templater.lint.rules import RULES

        return render(format, report, RULES, color=False)
    return render(format, report, {}, color=_color(sys.stdout))


def _rules(args: argparse.Namespace) -> int:
    from templater.engine.suggestions import closest
    from templater.lint.rules import RULES

    if args.markdown:
        from templater.lint.rules import catalogue_markdown

        sys.stdout.write(catalogue_markdown(RULES.values()))
        return EXIT_OK
    if args.rule is None:
        width = max(len(rule_id) for rule_id in RULES)
        for rule in sorted(RULES.values(), key=lambda r: r.id):
            print(f"{rule.id.ljust(width)}  {rule.severity.value:<7}  {rule.summary}")
        return EXIT_OK
    explained = RULES.get(args.rule)
    if explained is None:
        # A part of an ID (app-slug) names the rules it starts; a typo, the closest one.
        close = [rule for rule in sorted(RULES) if rule.startswith(args.rule)]
        if not close:
            close = [found] if (found := closest(args.rule, RULES)) else []
        hint = (
            "; did you mean " + " or ".join(f'"{rule}"' for rule in close) + "?"
            if close
            else "; `templater rules` lists them"
        )
        raise UsageError(f'there is no rule "{args.rule}"{hint}')
    from templater.lint.rules import explain

    print(explain(explained))
    return EXIT_OK


def _provider_version(text: str) -> str:
    from templater.engine.versions import Version

    try:
        return str(Version.parse(text))
    except ValueError as problem:
        raise argparse.ArgumentTypeError(str(problem)) from None


def add_commands(commands: Any) -> None:
    """Add the template author's commands to the CLI's subcommands."""
    inspect = commands.add_parser(
        "inspect",
        help="show the coder_agent and coder_app resources as the engine resolves them",
        description="Evaluate templates as Terraform would and show every coder_agent and "
        "coder_app with each attribute's value (unknown ones as such) and source position.",
    )
    inspect.add_argument("paths", nargs="+", metavar="PATH", help="template directory or file")
    inspect.add_argument(
        "--format", choices=("text", "json"), default="text", help="output format (default: text)"
    )
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
        "--recursive",
        action="store_true",
        help="lint every module below each PATH too (skipping .terraform/ and hidden "
        "directories); a directory with no .tf files of its own is searched anyway",
    )
    lint.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="leave out the modules found below a PATH in a directory this glob matches: by "
        "name (vendor) or by path (examples/broken); may be repeated",
    )
    lint.add_argument(
        "--max-share",
        choices=SHARE_LEVELS,
        help="the most open share level this deployment allows",
    )
    lint.add_argument(
        "--provider-version",
        type=_provider_version,
        metavar="V",
        help="lint for this Coder provider release (default: the lock file's, else the newest "
        "the template's constraints allow)",
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
    rules.add_argument(
        "--markdown", action="store_true", help="print every rule's documentation as Markdown"
    )
    rules.set_defaults(run=_rules)
