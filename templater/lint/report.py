"""A lint run's outcome: its diagnostics in reading order and the counts a summary line shows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from templater.engine.diagnostics import Diagnostic, Severity


@dataclass(frozen=True, slots=True)
class Summary:
    modules: int
    files: int
    apps: int
    errors: int
    warnings: int
    infos: int


@dataclass(frozen=True, slots=True)
class ModuleLint:
    """The findings for one template directory and what was looked at."""

    directory: Path
    diagnostics: list[Diagnostic]
    files: int
    apps: int


@dataclass(frozen=True, slots=True)
class LintReport:
    diagnostics: list[Diagnostic]
    summary: Summary


def build_report(
    diagnostics: Iterable[Diagnostic], modules: int, files: int, apps: int
) -> LintReport:
    """Diagnostics sorted by file and position, with their counts by severity."""
    ordered = sorted(
        diagnostics,
        key=lambda d: (d.span.file, d.span.line, d.span.column, d.rule, d.message),
    )
    counts = {severity: 0 for severity in Severity}
    for diagnostic in ordered:
        counts[diagnostic.severity] += 1
    summary = Summary(
        modules,
        files,
        apps,
        counts[Severity.ERROR],
        counts[Severity.WARNING],
        counts[Severity.INFO],
    )
    return LintReport(ordered, summary)


def combine(results: Iterable[ModuleLint]) -> LintReport:
    """One report for several directories; a finding two of them share (a module linted alone
    and through its caller) counts once."""
    results = list(results)
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
