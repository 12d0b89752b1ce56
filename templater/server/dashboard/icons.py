"""App icons (SPEC §13): an app's ``icon`` is loaded as given, but templates name Coder's own
icon paths (``/icon/code.svg``, ``/emojis/1f4dd.png``), which this server answers from a small
built-in set, with a generic icon for every name it does not have."""

from __future__ import annotations

from functools import cache
from importlib import resources
from urllib.parse import urlsplit

ICON_PATH = "/icon/"
EMOJI_PATH = "/emojis/"
GENERIC = "app"
"""The icon of an app without one, and of every name the set does not hold."""
# Names that templates use for what one built-in icon draws well enough.
_ALIASES = {
    "vscode": "code",
    "code-server": "code",
    "rdp": "desktop",
    "kasmvnc": "desktop",
    "novnc": "desktop",
    "filebrowser": "folder",
    "github": "git",
    "gitlab": "git",
    "postgres": "database",
    "pgadmin": "database",
    "widgets": "app",
    "docs": "book",
    "documentation": "book",
}


@cache
def _built_in() -> dict[str, bytes]:
    folder = resources.files(__package__).joinpath("icons")
    return {
        entry.name.removesuffix(".svg"): entry.read_bytes()
        for entry in folder.iterdir()
        if entry.name.endswith(".svg")
    }


def icon_names() -> list[str]:
    """The names of the built-in icons (``code`` for ``/icon/code.svg``)."""
    return sorted(_built_in())


def icon_svg(file_name: str) -> bytes:
    """The built-in icon for ``/icon/{file_name}``, or the generic one."""
    icons = _built_in()
    name = file_name.removesuffix(".svg")
    return icons.get(_ALIASES.get(name, name), icons[GENERIC])


def icon_source(icon: str | None) -> str:
    """What an app tile's image loads: the app's icon when it is a web address or a path on this
    server, else the generic icon (a ``javascript:`` or unparsable value never reaches the
    page)."""
    if icon:
        try:
            scheme = urlsplit(icon).scheme.lower()
        except ValueError:
            scheme = "invalid"
        if scheme in ("http", "https") or (not scheme and icon.startswith("/")):
            return icon
        if scheme == "data" and icon[5:].lower().startswith("image/"):
            return icon
    return f"{ICON_PATH}{GENERIC}.svg"
