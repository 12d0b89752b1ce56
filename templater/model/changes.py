"""How a workspace's agents and apps change from one state to another: the one rule that both
the plan shown to the user and the store's apply follow."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TypeVar

T = TypeVar("T")

# An app that moves to another agent is a new app there: it is replaced, not updated.
APP_REPLACED_BY = ("agent",)


def classify(
    before: Mapping[str, T], after: Mapping[str, T], replaced: Callable[[T, T], bool]
) -> Iterator[tuple[str, str]]:
    """(action, name) for each name whose state differs, in name order: "create", "delete",
    "replace" (when ``replaced(old, new)``) or "update"."""
    for name in sorted(before.keys() | after.keys()):
        if name not in before:
            yield "create", name
        elif name not in after:
            yield "delete", name
        elif before[name] != after[name]:
            yield ("replace" if replaced(before[name], after[name]) else "update"), name
