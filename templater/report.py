"""A lint run's outcome: its diagnostics in reading order and the counts a summary line shows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from templater.diagnostics import Diagnostic, Severity


@dataclass(frozen=True, slots=True)
class Summary:
    modules: int
    files: int
    apps: int
    errors: int
    warnings: int
    infos: int


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
