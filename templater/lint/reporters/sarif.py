"""The SARIF 2.1.0 format, as GitHub code scanning reads it: the rule catalogue with its help,
and each diagnostic as a result with a physical location and a fingerprint that follows it
when lines move."""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from templater.engine.diagnostics import Diagnostic, Severity
from templater.lint.report import LintReport
from templater.lint.reporters import RuleInfo
from templater.lint.reporters._source import SourceLines

SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
INFORMATION_URI = "https://github.com/OWNER/templater"
# docs/rules.md has a section per rule whose anchor is the rule's ID.
RULES_DOCUMENT = f"{INFORMATION_URI}/blob/main/docs/rules.md"
FINGERPRINT_KEY = "templaterFingerprint/v1"

_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def render(report: LintReport, rules: Mapping[str, RuleInfo]) -> str:
    return json.dumps(sarif_log(report, rules), indent=2) + "\n"


def sarif_log(report: LintReport, rules: Mapping[str, RuleInfo]) -> dict[str, Any]:
    indexes = {rule_id: index for index, rule_id in enumerate(rules)}
    sources = SourceLines()
    seen: Counter[str] = Counter()
    results = []
    for diagnostic in report.diagnostics:
        result = _result(diagnostic, indexes.get(diagnostic.rule))
        # Like GitHub's own line hash: identical findings in one file are told apart by their
        # order, so neither hides the other.
        digest = _fingerprint(diagnostic, sources)
        seen[digest] += 1
        result["partialFingerprints"] = {FINGERPRINT_KEY: f"{digest}:{seen[digest]}"}
        results.append(result)
    driver = {
        "name": "templater",
        "informationUri": INFORMATION_URI,
        "version": _version(),
        "rules": [_rule(rule) for rule in rules.values()],
    }
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        # Span columns count characters (code points), not SARIF's default UTF-16 code units.
        "runs": [
            {"tool": {"driver": driver}, "columnKind": "unicodeCodePoints", "results": results}
        ],
    }


def _rule(rule: RuleInfo) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": "".join(word.capitalize() for word in rule.id.split("-")),
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.explanation},
        # The explanations are written in Markdown (code in backticks); GitHub shows that one.
        "help": {"text": rule.explanation, "markdown": rule.explanation},
        "helpUri": f"{RULES_DOCUMENT}#{rule.id}",
        "defaultConfiguration": {"level": _LEVELS[rule.severity]},
    }


def _result(diagnostic: Diagnostic, rule_index: int | None) -> dict[str, Any]:
    span = diagnostic.span
    start, end = (span.line, span.column), (span.end_line, span.end_column)
    end = max(start, end)  # SARIF has no region that ends before it starts
    location: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": _artifact_location(span.file),
            "region": {
                "startLine": start[0],
                "startColumn": start[1],
                "endLine": end[0],
                "endColumn": end[1],
            },
        }
    }
    result: dict[str, Any] = {"ruleId": diagnostic.rule}
    if rule_index is not None:
        result["ruleIndex"] = rule_index
    result |= {
        "level": _LEVELS[diagnostic.severity],
        "message": {"text": diagnostic.message},
        "locations": [location],
    }
    return result


def _artifact_location(file: str) -> dict[str, str]:
    path = Path(file)
    if path.is_absolute():
        return {"uri": path.as_uri()}
    # Relative to where templater ran, which in CI is the checkout GitHub calls %SRCROOT%.
    return {"uri": quote(posixpath.normpath(path.as_posix())), "uriBaseId": "%SRCROOT%"}


def _fingerprint(diagnostic: Diagnostic, sources: SourceLines) -> str:
    # No line number: the finding keeps its identity when lines are added above it.
    span = diagnostic.span
    line = (sources.line(span.file, span.line) or "").strip()
    subject = diagnostic.resource or diagnostic.message
    fields = (diagnostic.rule, _artifact_location(span.file)["uri"], subject, line)
    return hashlib.sha256("\0".join(fields).encode("utf-8")).hexdigest()[:32]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("templater")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"
