"""The dashboard's forms against cross-site requests (SPEC §15): every page with a form gives
the browser a random CSRF token in a cookie and in the form; a post is taken only when both
agree and the browser does not say it came from another site."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import parse_qsl, urlsplit

from fastapi import Request

from templater.server.router.sessions import set_cookie

CSRF_COOKIE = "templater_csrf"
"""A site that is not templater cannot read it (and SameSite=Lax keeps it off cross-site
posts), so it cannot post a form as the browser's user."""
CSRF_FIELD = "csrf"


def refused(origin: str) -> str:
    """Why a form was not taken, for the page that says so."""
    return (
        "This form did not come from templater's own page (a cross-site request, a page from "
        "before the browser's cookies were cleared, or this server under another name than "
        f"{origin}). Try again from {origin}/."
    )


def csrf_token(request: Request, secure: bool) -> tuple[str, list[str]]:
    """The browser's CSRF token, and the Set-Cookie value that gives it one when it has none."""
    token = request.cookies.get(CSRF_COOKIE, "")
    if len(token) == 43 and token.isascii():
        return token, []
    token = secrets.token_urlsafe(32)
    return token, [set_cookie(CSRF_COOKIE, token, secure)]


def origin_of(access_url: str) -> str:
    """``scheme://host[:port]`` of the access URL, as a browser's ``Origin`` header says it."""
    parts = urlsplit(access_url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def from_our_form(request: Request, form: dict[str, str], origin: str) -> bool:
    """Whether a posted form came from templater's own page: same origin (when the browser
    says), and the CSRF token of its cookie."""
    said = request.headers.get("origin")
    if said is not None and said.rstrip("/").lower() != origin:
        return False
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    cookie, posted = request.cookies.get(CSRF_COOKIE, ""), form.get(CSRF_FIELD, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), posted.encode())


async def read_form(request: Request) -> dict[str, str]:
    """A plain urlencoded form (the router has bounded its size before it reached here)."""
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
