"""How a client presents an API token: ``Authorization: Bearer TOKEN`` or the
``Templater-Session-Token`` header. One reading for the API and for the app router, which checks
a token before it lets the API read a request's body (SPEC §15)."""

from __future__ import annotations

SESSION_HEADER = "Templater-Session-Token"

NO_TOKEN = f"sign in: send Authorization: Bearer TOKEN or {SESSION_HEADER}"
"""Why a request without a token is refused."""
BAD_TOKEN = "the token is not valid"
"""Why a request with an unknown, revoked or expired token, or a suspended user's, is refused."""


def presented_token(authorization: str | None, session_token: str | None) -> str | None:
    """The token a request presents: a bearer token wins over the session header."""
    if authorization is not None:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return session_token or None
