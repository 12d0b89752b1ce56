"""The rule catalogue: every rule's ID, severity, summary and explanation, and its check.

A rule is registered where it is written, with :func:`rule`; the modules imported here are the
whole catalogue. Rules that the engine (parser, evaluator) or the JSON Schemas report have no
check function of their own. Parts of rules that depend on the Coder provider's release are
declared with them (see versioning and schemadata); catalogue collects them.
"""

# Importing the rule modules registers their rules: together they are the catalogue.
from templater.lint.rules import agents, apps, evaluation, provider, schema  # noqa: F401
from templater.lint.rules.catalogue import (
    catalogue_markdown,
    explain,
    oldest_described,
    version_parts,
)
from templater.lint.rules.registry import RULES, LintContext, Rule

__all__ = [
    "RULES",
    "LintContext",
    "Rule",
    "catalogue_markdown",
    "explain",
    "oldest_described",
    "version_parts",
]
