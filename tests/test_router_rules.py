"""The app router's rules without a server: share levels (SPEC §6), CORS (SPEC §7), session
cookies and the auth-redirect's check of where it may send a browser."""

from __future__ import annotations

import pytest

from templater.model.hostnames import compile_wildcard
from templater.model.records import User
from templater.server.router.cors import allowed_origin, preflight_headers, response_headers
from templater.server.router.exchange import without_hop_by_hop
from templater.server.router.routing import Access, access, auth_redirect_target, with_ticket
from templater.server.router.sessions import (
    SessionSigner,
    cookie_value,
    set_cookie,
    without_cookies,
)

ALICE = User(1, "alice", "member")
BOB = User(2, "bob", "member")
ADMIN = User(3, "root", "admin")

# SPEC §6's table, plus admins: (share, viewer) -> outcome for subdomain access.
SHARE_TABLE = [
    ("owner", ALICE, Access.ALLOW),
    ("owner", BOB, Access.HIDE),
    ("owner", ADMIN, Access.ALLOW),
    ("owner", None, Access.SIGN_IN),
    ("authenticated", ALICE, Access.ALLOW),
    ("authenticated", BOB, Access.ALLOW),
    ("authenticated", ADMIN, Access.ALLOW),
    ("authenticated", None, Access.SIGN_IN),
    ("public", ALICE, Access.ALLOW),
    ("public", BOB, Access.ALLOW),
    ("public", ADMIN, Access.ALLOW),
    ("public", None, Access.ALLOW),
]


@pytest.mark.parametrize(("share", "viewer", "expected"), SHARE_TABLE)
def test_share_table_for_subdomain_access(
    share: str, viewer: User | None, expected: Access
) -> None:
    assert access(share, "alice", viewer, admins_reach=True) is expected


def test_admins_reach_path_apps_only_as_shared() -> None:
    # A path app shares the access URL's origin: an admin's visit must not hand it their session.
    assert access("owner", "alice", ADMIN, admins_reach=False) is Access.HIDE
    assert access("authenticated", "alice", ADMIN, admins_reach=False) is Access.ALLOW


CODER_WILDCARD = compile_wildcard("*--apps.dev.coder.com")


@pytest.mark.parametrize(
    ("origin", "app_user", "allowed"),
    [
        ("https://3000--agent--ws--user--apps.dev.coder.com", "user", True),  # self
        ("https://8000--agent--ws--user--apps.dev.coder.com", "user", True),  # same workspace
        ("https://8000--agent2--ws2--user--apps.dev.coder.com", "user", True),  # same user
        ("https://3000--agent--ws--user2--apps.dev.coder.com", "user", False),  # other origin owner
        ("https://3000--agent--ws--user--apps.dev.coder.com", "user2", False),  # other host owner
        ("https://app--ws--user--apps.dev.coder.com:8443", "user", True),  # a port is tolerated
        ("https://APP--WS--USER--apps.dev.coder.com", "user", True),  # case-insensitive
        ("https://app--ws--user--apps.dev.coder.com.evil.test", "user", False),
        ("https://evil.test", "user", False),
        ("null", "user", False),
        ("", "user", False),
        ("https://not-an-app--apps.dev.coder.com", "user", False),
    ],
)
def test_allowed_origins_are_the_same_users_apps(origin: str, app_user: str, allowed: bool) -> None:
    result = allowed_origin(origin.encode(), app_user, CODER_WILDCARD)
    assert result == (origin.encode() if allowed else None)


def test_preflight_echoes_method_and_headers_for_an_allowed_origin() -> None:
    headers = dict(preflight_headers(b"https://a", b"put", b"X-Foobar, Content-Type", True))
    assert headers == {
        b"Vary": b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
        b"Access-Control-Allow-Origin": b"https://a",
        b"Access-Control-Allow-Credentials": b"true",
        b"Access-Control-Allow-Methods": b"PUT",
        b"Access-Control-Allow-Headers": b"X-Foobar, Content-Type",
    }


@pytest.mark.parametrize(("method", "allowed"), [(b"GET", False), (b"CONNECT", True)])
def test_preflight_gives_nothing_to_go_on_when_refused(method: bytes, allowed: bool) -> None:
    names = {name for name, _ in preflight_headers(b"https://a", method, b"X-A", allowed)}
    assert names == {b"Vary"}


def test_the_apps_cors_headers_are_stripped_as_coder_does() -> None:
    """apptest CORSHeadersStripped, with the real header name stripped too (SPEC §7)."""
    app = (
        b"X-Foobar: baz\r\n"
        b"Access-Control-Allow-Origin: http://evil.test\r\n"
        b"access-control-allow-origin: http://evil.test\r\n"
        b"Access-Control-Allow-Credentials: true\r\n"
        b"Access-Control-Allow-Methods: PUT\r\n"
        b"Access-Control-Allow-Headers: X-Foobar\r\n"
        b"Vary: Origin, origin, Access-Control-Request-Headers\r\n"
        b"vary: access-Control-request-Headers, Access-Control-Request-Method\r\n"
        b"VARY: ACCESS-CONTROL-REQUEST-METHOD, X-Foobar, x-foobar\r\n"
        b"Access-Control-Expose-Headers: X-Foobar\r\n"
    )
    assert response_headers(app, None) == (
        b"X-Foobar: baz\r\nAccess-Control-Expose-Headers: X-Foobar\r\nVary: Origin, X-Foobar\r\n"
    )


def test_an_allowed_origin_gets_acao_and_acac() -> None:
    assert response_headers(b"Content-Type: text/plain\r\n", b"https://x") == (
        b"Content-Type: text/plain\r\n"
        b"Vary: Origin\r\n"
        b"Access-Control-Allow-Origin: https://x\r\n"
        b"Access-Control-Allow-Credentials: true\r\n"
    )


@pytest.mark.parametrize(
    ("fields", "keep_upgrade", "expected"),
    [
        (b"A: 1\r\nB: 2\r\n", False, b"A: 1\r\nB: 2\r\n"),
        (
            b"Connection: keep-alive\r\nKeep-Alive: timeout=5\r\nA: 1\r\n",
            False,
            b"A: 1\r\n",
        ),
        (
            b"connection: X-Secret, close\r\nX-Secret: s\r\nX-Secret-Not: k\r\n",
            False,
            b"X-Secret-Not: k\r\n",
        ),
        # The framing headers stay whatever Connection says: the body passes through as framed.
        (
            b"Connection: Content-Length\r\nContent-Length: 3\r\n",
            False,
            b"Content-Length: 3\r\n",
        ),
        (b"Upgrade: websocket\r\nConnection: Upgrade\r\n", True, b"Upgrade: websocket\r\n"),
        (b"Upgrade: h2c\r\nTE: trailers\r\nProxy-Connection: x\r\n", False, b""),
        (b"X-Connection: kept\r\n", False, b"X-Connection: kept\r\n"),
    ],
)
def test_hop_by_hop_response_headers_are_dropped(
    fields: bytes, keep_upgrade: bool, expected: bytes
) -> None:
    assert without_hop_by_hop(fields, b"\n" + fields.lower(), keep_upgrade) == expected


SIGNER = SessionSigner(b"k" * 32)


def test_a_session_is_good_only_on_its_own_host_and_until_it_expires() -> None:
    cookie = SIGNER.issue(7, "app--ws--alice", now=1000)
    assert SIGNER.session(cookie, "app--ws--alice", now=1001) == 7
    assert SIGNER.session(cookie, "APP--WS--ALICE", now=1001) == 7
    assert SIGNER.session(cookie, "other--ws--alice", now=1001) is None
    assert SIGNER.session(cookie, "app--ws--alice", now=1000 + 24 * 3600 + 1) is None
    assert SessionSigner(b"x" * 32).session(cookie, "app--ws--alice", now=1001) is None


@pytest.mark.parametrize(
    "forged",
    [
        "",
        "7",
        "7.1",
        "8.99999999999.AAAA",
        "7.notanumber.sig",
        "..",
        "7..sig",
        "².1.sig",
        "7" * 200,
    ],
)
def test_forged_sessions_are_refused(forged: str) -> None:
    assert SIGNER.session(forged, "app--ws--alice", now=1000) is None


def test_editing_the_session_of_a_cookie_breaks_it() -> None:
    cookie = SIGNER.issue(7, "", now=1000)
    assert SIGNER.session("8" + cookie.removeprefix("7"), "", now=1001) is None


def test_cookie_helpers() -> None:
    header = "a=1; templater_app_session=xyz; b=2"
    assert cookie_value(header, "templater_app_session") == "xyz"
    assert cookie_value(header, "missing") is None
    kept = without_cookies(
        b"a=1; templater_app_session=xyz; templater_session=q; b=2",
        frozenset({b"templater_app_session", b"templater_session"}),
    )
    assert kept == b"a=1; b=2"
    assert without_cookies(b"templater_session=q", frozenset({b"templater_session"})) == b""
    assert set_cookie("c", "v", secure=True) == (
        "c=v; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax; Secure"
    )


WILDCARD = compile_wildcard("*.apps.example.com")


@pytest.mark.parametrize(
    ("redirect_uri", "label"),
    [
        ("https://code-server--dev--alice.apps.example.com/x?y=1", "code-server--dev--alice"),
        ("https://8080--main--dev--alice.APPS.example.com/", "8080--main--dev--alice"),
        ("http://code-server--dev--alice.apps.example.com/", None),  # not the scheme served
        ("https://code-server--dev--alice.apps.example.com:8443/", None),  # nor the port
        ("ftp://code-server--dev--alice.apps.example.com/", None),
        ("https://code-server--dev--alice.apps.example.com.evil.test/", None),
        ("https://evil.test/?https://code-server--dev--alice.apps.example.com/", None),
        ("https://user@code-server--dev--alice.apps.example.com/", None),
        ("javascript:alert(1)//code-server--dev--alice.apps.example.com", None),
        ("//code-server--dev--alice.apps.example.com/", None),
        ("https://not_a_label.apps.example.com/", None),
        ("https://apps.example.com/", None),
        ("", None),
    ],
)
def test_auth_redirect_only_goes_to_this_deployments_apps(
    redirect_uri: str, label: str | None
) -> None:
    assert auth_redirect_target(redirect_uri, WILDCARD, "https://templater.example.com") == label


@pytest.mark.parametrize(
    ("redirect_uri", "label"),
    [
        ("http://web--dev--alice.apps.localhost:7080/", "web--dev--alice"),
        ("http://web--dev--alice.apps.localhost:22/", None),
        ("http://web--dev--alice.apps.localhost/", None),
        ("https://web--dev--alice.apps.localhost:7080/", None),
    ],
)
def test_app_hosts_share_the_access_urls_port_unless_the_pattern_names_one(
    redirect_uri: str, label: str | None
) -> None:
    pattern = compile_wildcard("*.apps.localhost")
    assert auth_redirect_target(redirect_uri, pattern, "http://127.0.0.1:7080") == label


def test_the_ticket_joins_the_query() -> None:
    assert with_ticket("http://a.b/p", "t/1") == "http://a.b/p?templater_ticket=t/1"
    assert with_ticket("http://a.b/p?x=1", "t") == "http://a.b/p?x=1&templater_ticket=t"
