"""The JSON format: the documented, versioned shape that scripts read (SPEC §4)."""

from __future__ import annotations

import json
from typing import Any

from templater.engine.diagnostics import Diagnostic
from templater.lint.report import LintReport

VERSION = 1


def render(report: LintReport) -> str:
    summary = report.summary
    document = {
        "version": VERSION,
        "diagnostics": [_diagnostic(diagnostic) for diagnostic in report.diagnostics],
        "summary": {
            "modules": summary.modules,
            "files": summary.files,
            "apps": summary.apps,
            "errors": summary.errors,
            "warnings": summary.warnings,
            "infos": summary.infos,
        },
    }
    return json.dumps(document, indent=2) + "\n"


def _diagnostic(diagnostic: Diagnostic) -> dict[str, Any]:
    span = diagnostic.span
    return {
        "rule": diagnostic.rule,
        "severity": diagnostic.severity.value,
        "message": diagnostic.message,
        "file": span.file,
        "line": span.line,
        "column": span.column,
        "end_line": span.end_line,
        "end_column": span.end_column,
        "resource": diagnostic.resource,
    }
