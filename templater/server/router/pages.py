"""The answers the app router gives itself: HTML pages (errors on app URLs, each linking back to
the dashboard where it can) and the API's JSON errors that it gives before the API is reached."""

from __future__ import annotations

import json
from html import escape

from templater.server.router.exchange import Reply

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;"
    "color:#1f2328}h1{font-size:1.4rem}p{line-height:1.5}code{background:#f0f0f0;padding:0 .2em}"
    "label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.4rem;font:inherit}"
    "button{margin-top:1rem;padding:.4rem 1rem;font:inherit}"
)

_NO_STORE = (b"Cache-Control", b"no-store")


def _html(title: str, body: str) -> str:
    """A whole page around ``body`` (already HTML)."""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
        f"</title><style>{_STYLE}</style></head><body><main><h1>{escape(title)}</h1>{body}</main>"
        "</body></html>"
    )


def page(status: int, title: str, message: str, link: tuple[str, str] | None = None) -> Reply:
    """An error page: ``message`` is plain text; ``link`` is an optional (URL, text) to go on."""
    body = f"<p>{escape(message)}</p>"
    if link is not None:
        body += f'<p><a href="{escape(link[0])}">{escape(link[1])}</a></p>'
    return Reply(
        status,
        [(b"Content-Type", b"text/html; charset=utf-8"), _NO_STORE],
        _html(title, body).encode(),
    )


def message(status: int, text: str, *extra: tuple[bytes, bytes]) -> Reply:
    """An error in the API's own form: JSON ``{"message": text}``."""
    return Reply(
        status,
        [(b"Content-Type", b"application/json"), _NO_STORE, *extra],
        json.dumps({"message": text}).encode(),
    )


def redirect(status: int, location: str, *extra: tuple[bytes, bytes]) -> Reply:
    """A redirect to ``location`` (303 or 307)."""
    return Reply(status, [(b"Location", location.encode("latin-1")), _NO_STORE, *extra])
