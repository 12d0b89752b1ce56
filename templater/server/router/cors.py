"""CORS between subdomain apps (SPEC §7): which origins an app answers, the preflights templater
answers itself, and the app's own CORS headers that never reach the browser.

Headers are ``(name, value)`` pairs of bytes as they travel, names in any case; a response's
headers are rewritten as the raw lines they came in.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from templater.model.hostnames import HostnameError, WildcardPattern, parse_label
from templater.server.router.exchange import Headers

ALLOWED_METHODS = frozenset({b"HEAD", b"GET", b"POST", b"PUT", b"PATCH", b"DELETE"})

_APP_CORS_FIELDS = re.compile(
    rb"^access-control-allow-(?:origin|credentials|methods|headers):[^\n]*\n", re.I | re.M
)
_VARY_FIELD = re.compile(rb"^vary:([^\r\n]*)\r\n", re.I | re.M)
_APP_VARY_VALUES = frozenset(
    {b"origin", b"access-control-request-method", b"access-control-request-headers"}
)


def origin_user(origin: str, wildcard: WildcardPattern) -> str | None:
    """The user whose subdomain app ``origin`` (``scheme://host[:port]``) is; None when it is not
    a subdomain app of this deployment."""
    try:
        host = urlsplit(origin).netloc
    except ValueError:
        return None
    label = wildcard.match(host) if host else None
    if label is None:
        return None
    try:
        return parse_label(label).user
    except HostnameError:
        return None


def allowed_origin(origin: bytes | None, owner: str, wildcard: WildcardPattern) -> bytes | None:
    """``origin`` if it may call ``owner``'s apps with credentials: it is the host of a subdomain
    app of the same user (workspace, agent and app do not matter)."""
    if not origin:
        return None
    user = origin_user(origin.decode("latin-1"), wildcard)
    return origin if user is not None and user == owner else None


def preflight_headers(
    origin: bytes | None, method: bytes, requested_headers: bytes | None, allowed: bool
) -> Headers:
    """The headers of templater's own answer to a preflight. A refused origin still gets a 200,
    but nothing that lets the browser go on."""
    headers: Headers = [
        (b"Vary", b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
    ]
    if allowed and origin is not None and method.upper() in ALLOWED_METHODS:
        headers.append((b"Access-Control-Allow-Origin", origin))
        headers.append((b"Access-Control-Allow-Credentials", b"true"))
        headers.append((b"Access-Control-Allow-Methods", method.upper()))
        if requested_headers:
            headers.append((b"Access-Control-Allow-Headers", requested_headers))
    return headers


def response_headers(fields: bytes, origin: bytes | None) -> bytes:
    """The app's response header lines (each ending in CRLF) as the browser gets them: its own
    CORS headers and the Vary values they depend on removed (any case, deduplicated), then
    templater's ``Vary: Origin`` and, for an allowed ``origin``, its ACAO and ACAC."""
    lowered = fields.lower()
    if b"access-control-allow-" in lowered:
        fields = _APP_CORS_FIELDS.sub(b"", fields)
    vary = [b"Origin"]
    if b"vary:" in lowered:
        seen = {b"origin"}
        for value in _VARY_FIELD.findall(fields):
            for item in value.split(b","):
                token = item.strip()
                key = token.lower()
                if token and key not in seen and key not in _APP_VARY_VALUES:
                    seen.add(key)
                    vary.append(token)
        fields = _VARY_FIELD.sub(b"", fields)
    fields += b"Vary: " + b", ".join(vary) + b"\r\n"
    if origin is not None:
        fields += b"Access-Control-Allow-Origin: " + origin + b"\r\n"
        fields += b"Access-Control-Allow-Credentials: true\r\n"
    return fields
