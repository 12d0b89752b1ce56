"""Versions, and version constraints as Terraform reads them for providers.

A constraint is conditions separated by commas, each an operator and a version: ``=`` (or no
operator), ``!=``, ``>``, ``>=``, ``<``, ``<=`` and ``~>``. Parts left out are zero (``>= 2.5`` is
``>= 2.5.0``). ``~>`` lets only the rightmost part written grow: ``~> 0.5`` (and ``~> 0``) allow
everything below the next major version (``>= 0.5.0, < 1.0.0``), ``~> 0.5.1`` everything below the
next minor one (``>= 0.5.1, < 0.6.0``). A pre-release (``2.2.0-pre0``) is allowed only by a
condition that names it exactly, and a ``v`` prefix is refused, as Terraform does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache, total_ordering

_VERSION = re.compile(
    r"(?P<major>\d+)(?:\.(?P<minor>\d+))?(?:\.(?P<patch>\d+))?"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?"
)
_Order = tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]
_CONDITION = re.compile(r"\s*(?P<op>!=|>=|<=|~>|=<|=>|[=<>])?\s*(?P<version>[^,\s]*)\s*")


@total_ordering
@dataclass(frozen=True, slots=True)
class Version:
    """A semantic version; a pre-release sorts before its release."""

    major: int
    minor: int = 0
    patch: int = 0
    prerelease: str = ""
    # The sort key, worked out once: versions are compared often.
    _order: _Order = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        identifiers = tuple(
            (0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in self.prerelease.split(".")
            if self.prerelease
        )
        order = (self.major, self.minor, self.patch, 0 if self.prerelease else 1, identifiers)
        object.__setattr__(self, "_order", order)

    @classmethod
    def parse(cls, text: str) -> Version:
        """``2.14.0``, ``2.14``, ``v2.14.0`` or ``2.2.0-pre0``; raises ValueError otherwise."""
        version, _ = _parse_version(text.strip().removeprefix("v"))
        return version

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        return f"{text}-{self.prerelease}" if self.prerelease else text

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._order < other._order


def _parse_version(text: str) -> tuple[Version, int]:
    """A version and how many of its three numbers were written."""
    match = _VERSION.fullmatch(text)
    if match is None:
        raise ValueError(f'"{text}" is not a version')
    numbers = [match["major"], match["minor"], match["patch"]]
    written = sum(1 for number in numbers if number is not None)
    major, minor, patch = (int(number or 0) for number in numbers)
    return Version(major, minor, patch, match["pre"] or ""), written


@dataclass(frozen=True, slots=True)
class Condition:
    """One condition of a constraint: ``>= 2.5`` is (">=", 2.5.0, 2 numbers written)."""

    operator: str
    version: Version
    written: int

    def allows(self, version: Version) -> bool:
        bound = self.version
        if self.operator == "=":
            return version == bound
        if self.operator == "!=":
            return version != bound
        if self.operator == ">":
            return version > bound
        if self.operator == ">=":
            return version >= bound
        if self.operator == "<":
            return version < bound
        if self.operator == "<=":
            return version <= bound
        # "~>": at least the bound, below the next minor (three numbers) or major version.
        if self.written == 3:
            upper = Version(bound.major, bound.minor + 1)
        else:
            upper = Version(bound.major + 1)
        return bound <= version < upper


Constraint = tuple[Condition, ...]
"""Conditions that must all hold; none allows every version."""


@lru_cache(maxsize=256)
def parse_constraint(text: str) -> Constraint:
    """A constraint as written in ``required_providers``; raises ValueError saying what is
    wrong. An empty string allows every version, as in Terraform."""
    conditions: list[Condition] = []
    if not text.strip():
        return ()
    for part in text.strip().removesuffix(",").split(","):
        match = _CONDITION.fullmatch(part)
        if match is None or not match["version"]:
            raise ValueError(f'"{part.strip()}" is not an operator and a version')
        operator, written_version = match["op"] or "=", match["version"]
        if operator in ("=<", "=>"):
            raise ValueError(f'unknown operator "{operator}"; did you mean "{operator[::-1]}"?')
        if written_version.startswith("v"):
            raise ValueError(f'"{written_version}": a "v" prefix is not allowed here')
        version, written = _parse_version(written_version)
        conditions.append(Condition(operator, version, written))
    return tuple(conditions)


def allows(constraint: Constraint, version: Version) -> bool:
    """Whether every condition holds for ``version``; a pre-release only where a ``=``
    condition names it."""
    if version.prerelease and not any(
        condition.operator == "=" and condition.version == version for condition in constraint
    ):
        return False
    return all(condition.allows(version) for condition in constraint)


def newest_allowed(
    constraints: Iterable[Constraint], versions: Iterable[Version]
) -> Version | None:
    """The newest of ``versions`` that every constraint allows, or None."""
    together = tuple(condition for constraint in constraints for condition in constraint)
    allowed = [version for version in versions if allows(together, version)]
    return max(allowed) if allowed else None
