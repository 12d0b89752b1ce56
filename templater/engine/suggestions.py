"""Did you mean: the known name closest to a mistyped one, for every message that names a
thing that does not exist (a function, a reference, an argument, a rule)."""

from __future__ import annotations

from collections.abc import Iterable

# HCL suggests a name within this many edits; farther ones are more often wrong than helpful.
_MOST_EDITS = 2


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate fewest edits from ``name``, at most two, ignoring case first (so "Public"
    finds "public"); the first in order on a tie; None when none is that close."""
    ranked = sorted(
        (
            _edit_distance(name.lower(), candidate.lower()),
            _edit_distance(name, candidate),
            candidate,
        )
        for candidate in set(candidates)
        if candidate != name
    )
    return ranked[0][2] if ranked and ranked[0][0] <= _MOST_EDITS else None


def did_you_mean(name: str, candidates: Iterable[str], quoted: bool = True) -> str:
    """`` Did you mean "x"?`` for the closest candidate, or nothing."""
    found = closest(name, candidates)
    if found is None:
        return ""
    return f' Did you mean "{found}"?' if quoted else f" Did you mean {found}?"


def _edit_distance(a: str, b: str) -> int:
    """The Levenshtein distance between two names."""
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]
