"""The GitHub Actions format: one workflow command per diagnostic, which the runner turns into
an annotation on the file and lines."""

from __future__ import annotations

from pathlib import Path

from templater.engine.diagnostics import Diagnostic, Severity
from templater.lint.report import LintReport

_COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def render(report: LintReport) -> str:
    return "".join(_command(diagnostic) + "\n" for diagnostic in report.diagnostics)


def _command(diagnostic: Diagnostic) -> str:
    span = diagnostic.span
    properties = {"file": Path(span.file).as_posix(), "line": span.line, "endLine": span.end_line}
    # GitHub ignores columns on an annotation that spans several lines.
    if span.end_line == span.line:
        properties |= {"col": span.column, "endColumn": span.end_column}
    properties["title"] = diagnostic.rule
    listed = ",".join(f"{key}={_escape_property(str(value))}" for key, value in properties.items())
    return f"::{_COMMANDS[diagnostic.severity]} {listed}::{_escape_data(diagnostic.message)}"


# The escapes of @actions/core (toolkit's command.ts), which the runner undoes.
def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")
