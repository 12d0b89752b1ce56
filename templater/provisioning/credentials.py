"""The CLI's credentials: the control plane's URL and an API token, from TEMPLATER_URL and
TEMPLATER_TOKEN or what ``templater login`` saved. Apart from the API client, so that a command
that needs only them (``templater ssh --stdio``, a ProxyCommand) starts without importing it."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


class NotSignedIn(Exception):
    """No credentials: the message says how to get some."""


@dataclass(frozen=True, slots=True)
class Credentials:
    url: str
    token: str


def credentials_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("templater")) / "credentials.json"


def load_credentials() -> Credentials:
    """TEMPLATER_URL and TEMPLATER_TOKEN, else what `templater login` saved."""
    url, token = os.environ.get("TEMPLATER_URL"), os.environ.get("TEMPLATER_TOKEN")
    if not (url and token):
        try:
            saved = json.loads(credentials_path().read_text(encoding="utf-8"))
            url, token = url or saved["url"], token or saved["token"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
    if not (url and token):
        raise NotSignedIn(
            "not signed in: run `templater login URL`, or set TEMPLATER_URL and TEMPLATER_TOKEN"
        )
    return Credentials(url.rstrip("/"), token)


def save_credentials(credentials: Credentials) -> Path:
    """Saved readable by the user only, replacing the old file in one step."""
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump({"url": credentials.url, "token": credentials.token}, handle)
    os.replace(temporary, path)
    return path
