"""The catalogue's view of provider versions: each rule's versioned parts, from the semantic
rules and the JSON Schemas, and the oldest release they describe."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from templater.engine.versions import Version
from templater.lint.rules.registry import Rule
from templater.lint.rules.schemadata import schema_parts
from templater.lint.rules.versioning import PARTS, Part

_SCHEMAS = ("coder_app", "coder_agent")


@cache
def _all_parts() -> tuple[Part, ...]:
    return (*PARTS, *(part for name in _SCHEMAS for part in schema_parts(name)))


def version_parts(rule_id: str) -> list[Part]:
    """The parts of a rule that came (or went) with a release, oldest first."""
    parts = [part for part in _all_parts() if part.rule == rule_id]
    return sorted(parts, key=lambda part: min(part.versions))


@cache
def oldest_described() -> Version:
    """The oldest release any rule distinguishes: templater's rules describe the provider from
    it on, and a template that gets an older release is linted with its rules."""
    return min(version for part in _all_parts() for version in part.versions)


def explain(rule: Rule) -> str:
    """What ``templater rules RULE`` prints: the rule and the releases its parts came with."""
    return f"{rule.id} ({rule.severity.value}): {rule.summary}\n\n{_body(rule)}"


def catalogue_markdown(rules: Iterable[Rule]) -> str:
    """The rules' documentation page (docs/rules.md), one section per rule whose anchor is its
    ID, as SARIF's helpUri links to it."""
    sections = [
        f"## `{rule.id}`\n\n**{rule.severity.value}**: {rule.summary}\n\n{_body(rule)}\n"
        for rule in sorted(rules, key=lambda rule: rule.id)
    ]
    return (
        "# templater's lint rules\n\n"
        "Written by `templater rules --markdown` from the rule catalogue; do not edit by hand.\n\n"
        + "\n".join(sections)
    )


def _body(rule: Rule) -> str:
    """The explanation, then a line per provider release that changed the rule."""
    lines = _grouped(version_parts(rule.id))
    return rule.explanation + ("\n\n" + "\n".join(lines) if lines else "")


def _grouped(parts: list[Part]) -> list[str]:
    """One line per release: ``Since: Coder provider 0.6.0 (slug, display_name)``."""
    merged: dict[tuple[Version | None, Version | None], list[str]] = {}
    for part in parts:
        merged.setdefault((part.since, part.until), []).append(part.what)
    return [
        Part("", ", ".join(whats), since, until).describe()
        for (since, until), whats in merged.items()
    ]
