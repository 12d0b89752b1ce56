"""Browser sessions (SPEC §6): signed cookies that say which session a browser has, on the access
URL or on one app host.

A cookie is ``{session}.{expires}.{signature}``: the signature (HMAC-SHA256 under the server's
secret) covers the session's id, the expiry and the host the cookie was issued for, so a cookie
copied to another app host, or edited, is worthless. The sessions themselves live in the store,
so that signing out or suspending a user ends them (and every app host's cookie made from them);
so do the single-use tickets that carry a sign-in from the access URL to an app host.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

ACCESS_COOKIE = "templater_session"
"""The session cookie on the access URL (the API's pages and path-based apps)."""
APP_COOKIE = "templater_app_session"
"""The session cookie on one app host."""
TICKET_PARAMETER = "templater_ticket"
"""The query parameter that brings a sign-in ticket to an app host."""
SESSION_LIFETIME = 24 * 3600
"""Seconds a browser session lasts."""
TICKET_LIFETIME = 60
"""Seconds a sign-in ticket may wait before it is redeemed."""

_COOKIE_LIMIT = 128
"""Longer than any cookie issued here: a longer one is not read."""

SECRET_NAME = "session-signing"
"""The name of the server secret sessions are signed with."""


@dataclass(frozen=True, slots=True)
class SessionSigner:
    """Issues and checks session cookies with the server's secret."""

    secret: bytes

    def issue(self, session: int, host: str, now: float | None = None) -> str:
        """A cookie for ``session`` on ``host`` (an app's label, or "" for the access URL)."""
        expires = int(now if now is not None else time.time()) + SESSION_LIFETIME
        return f"{session}.{expires}.{self._sign(session, expires, host)}"

    def session(self, cookie: str, host: str, now: float | None = None) -> int | None:
        """The id of the session a cookie issued for ``host`` stands for; None when it is forged,
        for another host, malformed or expired."""
        if len(cookie) > _COOKIE_LIMIT or not cookie.isascii():
            return None
        session, _, rest = cookie.partition(".")
        expires, _, signature = rest.partition(".")
        if not (session.isdigit() and expires.isdigit() and signature):
            return None
        if int(expires) < (now if now is not None else time.time()):
            return None
        expected = self._sign(int(session), int(expires), host)
        return int(session) if hmac.compare_digest(signature, expected) else None

    def _sign(self, session: int, expires: int, host: str) -> str:
        message = f"{session}.{expires}.{host.lower()}".encode()
        digest = hmac.new(self.secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def cookie_value(cookie_header: str, name: str) -> str | None:
    """The value of cookie ``name`` in a ``Cookie`` header; None when it is not there."""
    for item in cookie_header.split(";"):
        key, separator, value = item.strip().partition("=")
        if separator and key == name:
            return value.strip().strip('"')
    return None


def without_cookies(cookie_header: bytes, names: frozenset[bytes]) -> bytes:
    """The ``Cookie`` header without the named cookies (b"" when nothing is left)."""
    kept = [
        item.strip()
        for item in cookie_header.split(b";")
        if item.strip() and item.strip().partition(b"=")[0].strip() not in names
    ]
    return b"; ".join(kept)


def set_cookie(name: str, value: str, secure: bool, max_age: int = SESSION_LIFETIME) -> str:
    """A ``Set-Cookie`` value for a session cookie on the host that answers: HttpOnly, SameSite=Lax,
    for the whole host (no Domain, so it never reaches a sibling app host)."""
    attributes = f"{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax"
    return attributes + ("; Secure" if secure else "")
