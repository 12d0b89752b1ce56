"""Lint one template directory: evaluate it, run every rule, and apply ignore comments."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from templater.cache import ParseCache
from templater.diagnostics import Diagnostic, merge_instances
from templater.evaluate import Evaluation, ResolvedAttribute, ResolvedResource, evaluate_template
from templater.files import Files, RecordingFiles
from templater.loader import ParseFile
from templater.options import LintOptions
from templater.parser import parse_file
from templater.report import ModuleLint
from templater.resultcache import ResultCache
from templater.rules import RULES
from templater.syntax import Span


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

    def value_finding(
        self,
        rule: str,
        message: str,
        resource: ResolvedResource,
        attribute: ResolvedAttribute,
        label: str | None = None,
    ) -> Diagnostic:
        """A finding about an attribute's value, reported where the value is written; when that
        is elsewhere (a default, a module input), the message says which attribute uses it."""
        span = attribute.origin
        if span != attribute.span:
            use = attribute.span
            message += (
                f" (used by {resource.block_address}.{label or attribute.name}"
                f" at {use.file}:{use.line}:{use.column})"
            )
        return self.finding(rule, message, span, resource)


def lint_module(
    directory: Path,
    options: LintOptions | None = None,
    parse: ParseFile = parse_file,
    files: Files | None = None,
) -> ModuleLint:
    options = options or LintOptions()
    evaluation = evaluate_template(directory, options.evaluation, parse, files)
    diagnostics = check(evaluation, options)
    read = sum(len(module.files) for module in evaluation.modules)
    apps = sum(1 for r in evaluation.resources if r.mode == "managed" and r.type == "coder_app")
    return ModuleLint(directory, diagnostics, read, apps)


def check(evaluation: Evaluation, options: LintOptions) -> list[Diagnostic]:
    """Every finding about an evaluated template: the engine's and the rules', one per finding,
    less those that ignore comments silence."""
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
    return [
        diagnostic
        for diagnostic in merge_instances(found, evaluation.instance_counts())
        if diagnostic.rule
        not in ignores.get(diagnostic.span.file, {}).get(diagnostic.span.line, ())
    ]


def _lint_and_store(directory: Path, options: LintOptions, cache: Path | None) -> ModuleLint:
    """Lint one directory; with a cache, through the parse cache, and keep the result with what
    it was read from."""
    if cache is None:
        return lint_module(directory, options)
    files = RecordingFiles()
    result = lint_module(directory, options, ParseCache(cache).parse, files)
    ResultCache(cache).store(directory, options, files.observations, result)
    return result


def lint_directories(
    directories: list[Path],
    options: LintOptions,
    cache: Path | None,
    jobs: int | None = None,
) -> list[ModuleLint]:
    """Lint each template directory, in parallel across cores when there are several."""
    workers = min(len(directories), jobs or os.cpu_count() or 1)
    if workers <= 1:
        return [_lint_and_store(directory, options, cache) for directory in directories]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from templater.grammar import prepare

    # Forked workers inherit the loaded grammar and imports instead of paying for them again.
    prepare()
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        count = len(directories)
        return list(
            pool.map(
                _lint_and_store,
                directories,
                [options] * count,
                [cache] * count,
                chunksize=max(1, count // (workers * 4)),
            )
        )
