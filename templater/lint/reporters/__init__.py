"""Reporters: a lint report rendered in one of the output formats of ``templater lint``.

Each format lives in its own module and is imported only when asked for, so that choosing one
does not pay for the others (the text format pulls in rich).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from templater.engine.diagnostics import Severity
    from templater.lint.report import LintReport

FORMATS = ("text", "json", "sarif", "github")


class RuleInfo(Protocol):
    """What a reporter needs to know of a rule; :class:`templater.lint.rules.Rule` is one.

    A protocol rather than the class itself, so that rendering does not import the rule catalogue.
    """

    @property
    def id(self) -> str: ...
    @property
    def severity(self) -> Severity: ...
    @property
    def summary(self) -> str: ...
    @property
    def explanation(self) -> str: ...


def render(format: str, report: LintReport, rules: Mapping[str, RuleInfo], *, color: bool) -> str:
    """The whole output for ``report`` in ``format`` (one of :data:`FORMATS`).

    The text ends with a newline unless it is empty (github format, no diagnostics), so the
    caller writes it as it is. ``color`` only matters to the text format.
    """
    if format == "text":
        from templater.lint.reporters import text

        return text.render(report, color=color)
    if format == "json":
        from templater.lint.reporters import json

        return json.render(report)
    if format == "sarif":
        from templater.lint.reporters import sarif

        return sarif.render(report, rules)
    if format == "github":
        from templater.lint.reporters import github

        return github.render(report)
    raise ValueError(f"unknown output format {format!r}; expected one of {', '.join(FORMATS)}")
