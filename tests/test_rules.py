"""Every lint rule against small templates in tests/cases/<rule-id>/<case>/.

Each case directory holds a template (main.tf, and variables.tf, terraform.tfvars, local modules
as the case needs) and expected.json:

    {"about": "what the case shows",
     "options": {"max_share": ..., "workspace": ..., "owner": ..., "vars": {"name": "value"}},
     "xfail": "why the rule is known to get this case wrong (optional)",
     "diagnostics": [{"rule": ..., "file": "main.tf", "line": 7, "column": 14, "end_line": 7,
                      "end_column": 24, "resource": "coder_app.x" or null,
                      "message": "optional: a substring the message must contain"}]}

"diagnostics" lists exactly the errors and warnings linting the directory gives. Info findings
are compared only for the rule the case directory is filed under (module-not-inspected, ...).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from templater.engine.diagnostics import Diagnostic, Severity
from templater.engine.options import EvalOptions, InputOptions, LintOptions
from templater.lint.rules import RULES
from templater.lint.runner import lint_module

CASES = Path(__file__).resolve().parent / "cases"
FIELDS = ("rule", "file", "line", "column", "end_line", "end_column", "resource")

Row = tuple[str, str, int, int, int, int, str | None]


@dataclass(frozen=True)
class Case:
    rule: str
    name: str
    directory: Path
    expected: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.rule}/{self.name}"

    @property
    def diagnostics(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.expected["diagnostics"]
        return found


def load_cases() -> list[Case]:
    return [
        Case(path.parent.parent.name, path.parent.name, path.parent, json.loads(path.read_text()))
        for path in sorted(CASES.glob("*/*/expected.json"))
    ]


ALL_CASES = load_cases()


def lint_options(options: dict[str, Any]) -> LintOptions:
    """The expected.json options as the CLI would pass them; the environment is left out so
    that no TF_VAR_* of the machine running the tests leaks in."""
    inputs = InputOptions(variables=tuple(options.get("vars", {}).items()), environment={})
    evaluation = EvalOptions(
        inputs=inputs, workspace=options.get("workspace"), owner=options.get("owner")
    )
    return LintOptions(evaluation=evaluation, max_share=options.get("max_share"))


def lint_case(case: Case, monkeypatch: pytest.MonkeyPatch) -> list[Diagnostic]:
    """Lint the case directory from inside it, so that files are named like "main.tf"."""
    monkeypatch.chdir(case.directory)
    result = lint_module(Path("."), lint_options(case.expected.get("options", {})))
    return [d for d in result.diagnostics if d.severity != Severity.INFO or d.rule == case.rule]


def actual_row(diagnostic: Diagnostic) -> Row:
    span = diagnostic.span
    return (
        diagnostic.rule,
        span.file,
        span.line,
        span.column,
        span.end_line,
        span.end_column,
        diagnostic.resource,
    )


def expected_row(entry: dict[str, Any]) -> Row:
    rule, file, line, column, end_line, end_column, resource = (entry[k] for k in FIELDS)
    return (rule, file, line, column, end_line, end_column, resource)


def sort_key(row: Row) -> tuple[str, ...]:
    return tuple(str(value) for value in row)


def case_params() -> list[Any]:
    params = []
    for case in ALL_CASES:
        reason = case.expected.get("xfail")
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(case, id=case.id, marks=marks))
    return params


@pytest.mark.parametrize("case", case_params())
def test_case(case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    found = lint_case(case, monkeypatch)
    actual = sorted((actual_row(d) for d in found), key=sort_key)
    expected = sorted((expected_row(e) for e in case.diagnostics), key=sort_key)
    assert actual == expected, case.expected.get("about", "")
    for entry in case.diagnostics:
        if "message" in entry:
            messages = [d.message for d in found if actual_row(d) == expected_row(entry)]
            assert any(entry["message"] in message for message in messages), (entry, messages)
    for diagnostic in found:
        assert diagnostic.severity == RULES[diagnostic.rule].severity, diagnostic


def test_cases_are_filed_under_rules() -> None:
    assert ALL_CASES, f"no cases under {CASES}"
    misfiled = sorted({case.rule for case in ALL_CASES} - set(RULES))
    assert not misfiled, f"case directories named after no rule: {misfiled}"


def test_every_rule_fires_in_some_case() -> None:
    """A rule added to the catalogue without a case where it fires fails here."""
    fired = {
        entry["rule"]
        for case in ALL_CASES
        if not case.expected.get("xfail")
        for entry in case.diagnostics
    }
    missing = sorted(set(RULES) - fired)
    assert not missing, f"rules without a (passing) case in tests/cases where they fire: {missing}"


def test_every_rule_has_a_silent_case() -> None:
    """Each rule has a case filed under it where it does not fire (unknown, valid or ignored)."""
    silent = {
        case.rule
        for case in ALL_CASES
        if not any(entry["rule"] == case.rule for entry in case.diagnostics)
    }
    missing = sorted(set(RULES) - silent)
    assert not missing, f"rules without a case where they stay silent: {missing}"
