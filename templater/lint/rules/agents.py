"""Rules for coder_agent beyond its schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from templater.engine.diagnostics import Diagnostic, Severity
from templater.engine.evaluate import ResolvedResource
from templater.lint.rules.registry import rule

if TYPE_CHECKING:
    from templater.lint.rules.registry import LintContext


@rule(
    "agent-name-duplicate",
    Severity.ERROR,
    "Two agents have names that are equal ignoring case",
    """
Coder names an agent after its resource and compares names ignoring case ("duplicate agent
name"). Agents in different modules count, and so do the instances of one agent with
`count = 2`: every instance has the same name, so an agent block can have at most one instance.
""",
)
def check_agent_name_duplicate(context: LintContext) -> Iterator[Diagnostic]:
    first: dict[str, ResolvedResource] = {}
    for agent in context.agents:
        if not agent.expanded:
            continue
        key = agent.name.lower()
        if key in first:
            other = first[key]
            yield context.finding(
                "agent-name-duplicate",
                f'agent name "{agent.name}" is already used by {other.address} '
                f"({other.span.file}:{other.span.line}); Coder compares agent names ignoring case",
                agent.name_span,
                agent,
            )
        else:
            first[key] = agent
