"""The registry's errors: each a request refused with a message a person can act on."""

from __future__ import annotations


class StoreError(Exception):
    """A request the registry refuses, with a message a person can act on."""


class VersionConflict(StoreError):
    """The workspace changed (or appeared, or went away) since the caller planned against it."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or stayed locked too long; trying again later may work."""


class NotFound(StoreError):
    """The workspace, agent or other thing a request names does not exist."""


class LimitExceeded(StoreError):
    """An apply would take its owner past one of the limits on a member's load (SPEC §15)."""
