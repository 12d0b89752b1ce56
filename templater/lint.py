"""Lint one template directory: evaluate it, run every rule, and apply ignore comments."""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from templater.cache import ParseCache
from templater.diagnostics import Diagnostic, Severity
from templater.evaluate import EvalOptions, Evaluation, ResolvedResource, evaluate_template
from templater.loader import ParseFile
from templater.parser import parse_file
from templater.report import LintReport, build_report
from templater.rules import RULES
from templater.syntax import Span

SHARE_LEVELS = ("owner", "authenticated", "public")


@dataclass(frozen=True, slots=True)
class LintOptions:
    evaluation: EvalOptions = field(default_factory=EvalOptions)
    # The most open share level the deployment allows (--max-share); None allows all.
    max_share: str | None = None


@dataclass(slots=True)
class LintContext:
    """What a rule's check looks at: the evaluated template and the options of the run."""

    evaluation: Evaluation
    options: LintOptions
    apps: list[ResolvedResource]
    agents: list[ResolvedResource]

    def finding(
        self, rule: str, message: str, span: Span, resource: ResolvedResource | None = None
    ) -> Diagnostic:
        return Diagnostic(
            rule, RULES[rule].severity, message, span, resource.address if resource else None
        )


@dataclass(frozen=True, slots=True)
class ModuleLint:
    """The findings for one template directory and what was looked at."""

    directory: Path
    diagnostics: list[Diagnostic]
    files: int
    apps: int


def lint_module(
    directory: Path, options: LintOptions | None = None, parse: ParseFile = parse_file
) -> ModuleLint:
    options = options or LintOptions()
    evaluation = evaluate_template(directory, options.evaluation, parse)
    managed = [r for r in evaluation.resources if r.mode == "managed"]
    context = LintContext(
        evaluation,
        options,
        [r for r in managed if r.type == "coder_app"],
        [r for r in managed if r.type == "coder_agent"],
    )
    found = list(evaluation.diagnostics)
    for rule in RULES.values():
        if rule.check is not None:
            found.extend(rule.check(context))
    ignores = {
        parsed.path: parsed.ignores for module in evaluation.modules for parsed in module.files
    }
    kept = [
        diagnostic
        for diagnostic in _merge_instances(found)
        if diagnostic.rule
        not in ignores.get(diagnostic.span.file, {}).get(diagnostic.span.line, ())
    ]
    files = sum(len(module.files) for module in evaluation.modules)
    return ModuleLint(directory, kept, files, len(context.apps))


_INSTANCE_KEY = re.compile(r'\[(\d+|"(?:[^"\\]|\\.)*")\]$')


def _merge_instances(diagnostics: Iterable[Diagnostic]) -> Iterator[Diagnostic]:
    """One diagnostic per finding: the instances of a block share its source, so the same
    finding at the same place is reported once, for the block when several instances have it."""
    groups: dict[tuple[str, str, Span], list[Diagnostic]] = defaultdict(list)
    for diagnostic in diagnostics:
        groups[(diagnostic.rule, diagnostic.message, diagnostic.span)].append(diagnostic)
    for group in groups.values():
        first = group[0]
        resources = {d.resource for d in group}
        if len(resources) > 1 and first.resource is not None:
            yield Diagnostic(
                first.rule,
                first.severity,
                first.message,
                first.span,
                _INSTANCE_KEY.sub("", first.resource),
            )
        else:
            yield first


def _lint_with_cache(directory: Path, options: LintOptions, cache: Path | None) -> ModuleLint:
    parse = ParseCache(cache).parse if cache is not None else parse_file
    return lint_module(directory, options, parse)


def lint_directories(
    directories: list[Path],
    options: LintOptions,
    cache: Path | None,
    jobs: int | None = None,
) -> LintReport:
    """Lint each template directory once, in parallel across cores when there are several;
    a finding two directories share (a module linted alone and through its caller) counts once."""
    workers = min(len(directories), jobs or os.cpu_count() or 1)
    if workers <= 1:
        results = [_lint_with_cache(directory, options, cache) for directory in directories]
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # Forked workers inherit the loaded grammar and imports instead of paying for them again.
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else None)
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            results = list(
                pool.map(
                    _lint_with_cache,
                    directories,
                    [options] * len(directories),
                    [cache] * len(directories),
                )
            )
    unique = {(d.rule, d.message, d.span): d for result in results for d in result.diagnostics}
    return build_report(
        unique.values(),
        modules=len(results),
        files=sum(result.files for result in results),
        apps=sum(result.apps for result in results),
    )


def fails(diagnostics: Iterable[Diagnostic], strict: bool) -> bool:
    """Whether the findings fail the run: any error, or any warning under --strict."""
    failing = {Severity.ERROR, Severity.WARNING} if strict else {Severity.ERROR}
    return any(d.severity in failing for d in diagnostics)
