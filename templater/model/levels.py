"""Who may do what: user roles and share levels (SPEC §6), without the records that use them,
so that the command line can offer them as choices without importing the records."""

from __future__ import annotations

ROLES: tuple[str, ...] = ("admin", "member")

SHARE_LEVELS: tuple[str, ...] = ("owner", "authenticated", "public")
"""An app's ``share`` (SPEC §6); ``owner`` is the default."""

PORT_SHARE_LEVELS: tuple[str, ...] = ("authenticated", "public")
"""The levels a port can be shared at (SPEC §6); an unshared port is owner-only."""
