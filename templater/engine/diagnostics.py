"""Diagnostics: what a check found, how bad it is, and exactly where."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum

from templater.engine.addresses import block_address
from templater.engine.syntax import Span


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    rule: str
    severity: Severity
    message: str
    span: Span
    resource: str | None = None


def error(rule: str, message: str, span: Span, resource: str | None = None) -> Diagnostic:
    return Diagnostic(rule, Severity.ERROR, message, span, resource)


def merge_instances(
    diagnostics: Iterable[Diagnostic], instance_counts: Mapping[str, int]
) -> Iterator[Diagnostic]:
    """Each finding once. The instances of a block share its source: the same finding at the
    same place for every instance of a block is reported once, for the block; one that only
    some instances have stays with each of them."""
    groups: dict[tuple[str, str, Span], list[Diagnostic]] = {}
    for diagnostic in diagnostics:
        groups.setdefault((diagnostic.rule, diagnostic.message, diagnostic.span), []).append(
            diagnostic
        )
    for group in groups.values():
        resources = list(dict.fromkeys(d.resource for d in group))
        blocks = {block_address(resource) for resource in resources if resource is not None}
        if len(resources) > 1 and len(blocks) == 1 and None not in resources:
            block = blocks.pop()
            if len(resources) == instance_counts.get(block, 0):
                first = group[0]
                yield Diagnostic(first.rule, first.severity, first.message, first.span, block)
                continue
        seen = set()
        for diagnostic in group:
            if diagnostic.resource not in seen:
                seen.add(diagnostic.resource)
                yield diagnostic
