"""The answers templater gives itself: HTML pages (errors on app URLs and the sign-in form) and
the API's JSON errors that the router gives before the API is reached."""

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


def html(title: str, body: str) -> str:
    """A whole page around ``body`` (already HTML)."""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
        f"</title><style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>"
    )


def page(status: int, title: str, message: str, link: tuple[str, str] | None = None) -> Reply:
    """An error page: ``message`` is plain text; ``link`` is an optional (URL, text) to go on."""
    body = f"<p>{escape(message)}</p>"
    if link is not None:
        body += f'<p><a href="{escape(link[0])}">{escape(link[1])}</a></p>'
    return Reply(
        status,
        [(b"Content-Type", b"text/html; charset=utf-8"), _NO_STORE],
        html(title, body).encode(),
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


def sign_in_form(
    redirect_to: str, csrf: str, username: str = "", problem: str | None = None
) -> str:
    """The sign-in page: a username and an API token, posted back to ``/login`` with the
    browser's ``csrf`` token."""
    error = f'<p role="alert"><strong>{escape(problem)}</strong></p>' if problem else ""
    body = (
        f"{error}<p>Sign in with your username and an API token "
        "(<code>templater users create</code> prints one).</p>"
        '<form method="post" action="/login">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        f'<input type="hidden" name="redirect" value="{escape(redirect_to)}">'
        '<label for="username">Username</label>'
        f'<input id="username" name="username" autocomplete="username" value="{escape(username)}" required>'
        '<label for="token">API token</label>'
        '<input id="token" name="token" type="password" autocomplete="current-password" required>'
        '<button type="submit">Sign in</button></form>'
    )
    return html("Sign in to templater", body)
