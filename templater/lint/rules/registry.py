"""How a rule is written: its entry in the catalogue (ID, severity, summary, explanation) and
the :class:`LintContext` its check looks at."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from templater.engine.diagnostics import Diagnostic, Severity
from templater.engine.evaluate import Evaluation, ResolvedAttribute, ResolvedResource
from templater.engine.options import LintOptions
from templater.engine.syntax import Span
from templater.engine.versions import Version
from templater.lint.releases import NEWEST
from templater.lint.rules.schemadata import schema_at
from templater.lint.rules.versioning import Part


@dataclass(slots=True)
class LintContext:
    """What a rule's check looks at: the evaluated template, the options of the run and the
    release of the Coder provider whose rules apply."""

    evaluation: Evaluation
    options: LintOptions
    apps: list[ResolvedResource]
    agents: list[ResolvedResource]
    provider: Version = NEWEST
    _schemas: dict[str, dict[str, Any]] = field(default_factory=dict)

    def applies(self, part: Part) -> bool:
        """Whether a versioned part of a rule holds for the template's provider release."""
        return part.applies(self.provider)

    def schema(self, resource_type: str) -> dict[str, Any]:
        """The JSON Schema of a resource type as it holds for the template's provider release."""
        found = self._schemas.get(resource_type)
        if found is None:
            found = self._schemas[resource_type] = schema_at(resource_type, self.provider)
        return found

    def argument(self, resource_type: str, name: str) -> dict[str, Any] | None:
        """The schema of an argument (or nested block type), None when the release lacks it."""
        found: dict[str, Any] | None = self.schema(resource_type).get("properties", {}).get(name)
        return found

    def has_argument(self, resource_type: str, name: str) -> bool:
        return self.argument(resource_type, name) is not None

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
