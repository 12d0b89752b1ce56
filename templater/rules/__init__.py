"""The rule catalogue: every rule's ID, severity, summary and explanation, and its check.

A rule is registered where it is written, with :func:`rule`; the modules at the bottom of this
file are the whole catalogue. Rules that the engine (parser, evaluator) or the JSON Schemas
report have no check function of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from templater.diagnostics import Diagnostic, Severity

if TYPE_CHECKING:
    from templater.lint import LintContext

Check = Callable[["LintContext"], Iterator[Diagnostic]]


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    severity: Severity
    summary: str
    explanation: str
    check: Check | None = None


RULES: dict[str, Rule] = {}


def register(
    id: str, severity: Severity, summary: str, explanation: str, check: Check | None = None
) -> Rule:
    if id in RULES:
        raise ValueError(f"rule {id} is registered twice")
    RULES[id] = Rule(id, severity, summary, explanation.strip(), check)
    return RULES[id]


def rule(id: str, severity: Severity, summary: str, explanation: str) -> Callable[[Check], Check]:
    """Register the decorated function as the check of rule ``id``."""

    def decorate(check: Check) -> Check:
        register(id, severity, summary, explanation, check)
        return check

    return decorate


# The catalogue: importing these modules registers their rules.
from templater.rules import agents, apps, engine, schema  # noqa: E402, F401
