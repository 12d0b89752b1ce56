"""Lint one template directory: evaluate it, run every rule, and apply ignore comments."""

from __future__ import annotations

import os
from pathlib import Path

from templater.engine.diagnostics import Diagnostic, merge_instances
from templater.engine.evaluate import (
    Evaluation,
    evaluate_template,
)
from templater.engine.files import Files, RecordingFiles
from templater.engine.loader import ParseFile
from templater.engine.options import LintOptions
from templater.engine.parser import parse_file
from templater.lint.cache import ParseCache
from templater.lint.report import ModuleLint
from templater.lint.requirements import read_requirements
from templater.lint.resultcache import ResultCache
from templater.lint.rules import RULES, LintContext
from templater.lint.selection import Selection, select_version


def lint_module(
    directory: Path,
    options: LintOptions | None = None,
    parse: ParseFile = parse_file,
    files: Files | None = None,
) -> ModuleLint:
    options = options or LintOptions()
    files = files or Files()
    evaluation = evaluate_template(directory, options.evaluation, parse, files)
    diagnostics = check(evaluation, options, provider_selection(evaluation, options, parse, files))
    read = sum(len(module.files) for module in evaluation.modules)
    apps = sum(1 for r in evaluation.resources if r.mode == "managed" and r.type == "coder_app")
    return ModuleLint(directory, diagnostics, read, apps)


def provider_selection(
    evaluation: Evaluation,
    options: LintOptions,
    parse: ParseFile = parse_file,
    files: Files | None = None,
) -> Selection:
    """The Coder provider release the template is linted for (lint.selection)."""
    requirements = read_requirements(
        evaluation.directory, evaluation.modules, parse, files or Files()
    )
    return select_version(requirements, options.provider_version)


def check(
    evaluation: Evaluation, options: LintOptions, selection: Selection | None = None
) -> list[Diagnostic]:
    """Every finding about an evaluated template: the engine's, the provider release's and the
    rules', one per finding, less those that ignore comments silence. Without ``selection``,
    the release is chosen here (reading the template's lock file)."""
    selection = selection or provider_selection(evaluation, options)
    managed = [r for r in evaluation.resources if r.mode == "managed"]
    context = LintContext(
        evaluation,
        options,
        [r for r in managed if r.type == "coder_app"],
        [r for r in managed if r.type == "coder_agent"],
        selection.version,
    )
    found = [*evaluation.diagnostics, *selection.diagnostics]
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

    from templater.engine.grammar import prepare

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
