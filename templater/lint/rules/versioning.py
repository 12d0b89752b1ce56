"""Parts of rules that came (or went) with a release of the Coder provider.

A semantic rule declares each versioned part once, where its check uses it:
``COMMAND_WITH_SUBDOMAIN = versioned("app-conflict", "command with subdomain", since="2.14.0")``,
then asks ``context.applies(COMMAND_WITH_SUBDOMAIN)``. The schema-driven checks keep theirs in
the JSON Schemas (``x-since``, ``x-until``, ``x-changes``; see schemadata). Both are what
``templater rules RULE`` shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from templater.engine.versions import Version


@dataclass(frozen=True, slots=True)
class Part:
    """What of ``rule`` holds from release ``since`` (inclusive) until ``until`` (exclusive)."""

    rule: str
    what: str
    since: Version | None = None
    until: Version | None = None

    def applies(self, version: Version) -> bool:
        if self.since is not None and version < self.since:
            return False
        return self.until is None or version < self.until

    def describe(self) -> str:
        """``Since: Coder provider 2.14.0 (command with subdomain)``, for the catalogue."""
        if self.since is not None and self.until is not None:
            return f"Since: Coder provider {self.since}, until {self.until} ({self.what})"
        if self.since is not None:
            return f"Since: Coder provider {self.since} ({self.what})"
        return f"Until: Coder provider {self.until} ({self.what})"

    @property
    def versions(self) -> list[Version]:
        return [version for version in (self.since, self.until) if version is not None]


PARTS: list[Part] = []
"""The semantic rules' versioned parts, in the order they are declared."""


def versioned(rule: str, what: str, since: str | None = None, until: str | None = None) -> Part:
    """Declare (and return) a part of ``rule`` that holds from ``since`` until ``until``."""
    part = Part(
        rule,
        what,
        Version.parse(since) if since else None,
        Version.parse(until) if until else None,
    )
    PARTS.append(part)
    return part
