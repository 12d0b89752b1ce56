"""The app router in the real server: real apps on loopback ports reached through subdomains,
paths and port URLs, with share levels, the sign-in flow, CORS, WebSockets and big bodies."""

from __future__ import annotations

import json
import re
import socket
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from websockets.sync.client import connect

from .agents import start_agent
from .processes import family, memory_growth
from .test_server import (
    Server,
    app_json,
    apply_apps,
    eventually,
    new_user,
    port_free,
    put_workspace,
    serving,
    sign_in,
    start_server,
)
from .upstreams import EchoApp, WebSocketEcho, self_signed

WILDCARD = "apps.localhost"
SESSION_HEADER = "Templater-Session-Token"


@dataclass
class World:
    """A server with users alice, bob and an admin; alice's workspace ``dev`` and bob's ``lab``
    with apps at every share level, for subdomain and path access, and ports."""

    server: Server
    tokens: dict[str, str]
    echo: EchoApp
    shared_port: EchoApp
    public_port: EchoApp
    tls_port: EchoApp
    websocket: WebSocketEcho
    closed_port: int

    def get(
        self,
        host: str | None,
        target: str,
        user: str | None = None,
        headers: dict[str, str] | None = None,
        method: str = "GET",
        **options: Any,
    ) -> httpx.Response:
        """``target`` on the app host ``host`` (a label, or a full Host header when it has a
        dot), or on the access URL when ``host`` is None, as ``user`` (anonymous when None)."""
        sent = dict(headers or {})
        if host is not None:
            sent["Host"] = host if "." in host else f"{host}.{WILDCARD}"
        if user is not None:
            sent[SESSION_HEADER] = self.tokens[user]
        with httpx.Client(base_url=self.server.url, timeout=30) as client:
            return client.request(method, target, headers=sent, **options)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _app(
    slug: str, port: int, share: str, subdomain: bool = True, path: str = ""
) -> dict[str, Any]:
    app = app_json(slug, port)
    app.update(share=share, subdomain=subdomain, url=f"http://localhost:{port}{path}")
    return app


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Apps reached through their workspaces' agents."""
    tmp = tmp_path_factory.mktemp("router")
    echo, shared, public = EchoApp(), EchoApp(), EchoApp()
    tls = EchoApp(self_signed(tmp))
    websocket = WebSocketEcho()
    closed = _closed_port()
    for server in serving(tmp):
        tokens = {
            "admin": server.admin_token,
            "alice": new_user(server, "alice"),
            "bob": new_user(server, "bob"),
        }
        apps = [
            _app(f"{prefix}{share}", echo.port, share, subdomain)
            for share in ("owner", "authenticated", "public")
            for prefix, subdomain in (("", True), ("path-", False))
        ]
        apps += [
            _app("folder", echo.port, "public", path="/?folder=/home/coder"),
            _app("based", echo.port, "public", path="/base/"),
            _app("chat", websocket.port, "public"),
            _app("down", closed, "public"),
            _app("path-down", closed, "public", subdomain=False),
        ]
        apply_apps(server, tokens["alice"], "alice", "dev", apps)
        apply_apps(server, tokens["bob"], "bob", "lab", [_app("notes", echo.port, "owner")])
        agents = [
            start_agent(server, tokens["alice"], "alice", "dev"),
            start_agent(server, tokens["bob"], "bob", "lab"),
        ]
        for port, level in ((shared.port, "authenticated"), (public.port, "public")):
            shared_now = server.run(
                "ports", "share", "dev", str(port), "--level", level, token=tokens["alice"]
            )
            assert shared_now.returncode == 0, shared_now.stderr
        yield World(server, tokens, echo, shared, public, tls, websocket, closed)
        for agent in agents:
            agent.stop()
    for app in (echo, shared, public, tls):
        app.close()
    websocket.close()


def _echoed(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return dict(response.json())


def _headers_seen(response: httpx.Response) -> dict[str, str]:
    return {name.lower(): value for name, value in _echoed(response)["headers"]}


# --------------------------------------------------------------------- share levels (SPEC §6)

VIEWERS = ("alice", "bob", "admin", None)
SUBDOMAIN_TABLE = {
    "owner": (200, 404, 200, 303),
    "authenticated": (200, 200, 200, 303),
    "public": (200, 200, 200, 200),
}
# Path apps share the access URL's origin with the API: admins are not let into other people's
# owner-only path apps (as Coder without --dangerous-allow-path-app-site-owner-access).
PATH_TABLE = {
    "owner": (200, 404, 404, 303),
    "authenticated": (200, 200, 200, 303),
    "public": (200, 200, 200, 200),
}


@pytest.mark.parametrize("share", SUBDOMAIN_TABLE)
@pytest.mark.parametrize("viewer_index", range(4))
def test_share_table_on_subdomains(world: World, share: str, viewer_index: int) -> None:
    viewer = VIEWERS[viewer_index]
    answer = world.get(f"{share}--dev--alice", "/hello?x=1", viewer)
    expected = SUBDOMAIN_TABLE[share][viewer_index]
    assert answer.status_code == expected, answer.text
    if expected == 200:
        assert _echoed(answer)["target"] == "/hello?x=1"
    elif expected == 303:
        location = urlsplit(answer.headers["location"])
        assert (location.scheme, location.netloc) == ("http", urlsplit(world.server.url).netloc)
        assert location.path == "/api/v1/applications/auth-redirect"
        port = urlsplit(world.server.url).port
        assert parse_qs(location.query)["redirect_uri"] == [
            f"http://{share}--dev--alice.{WILDCARD}:{port}/hello?x=1"
        ]
    else:
        assert "Application not found" in answer.text


@pytest.mark.parametrize("share", PATH_TABLE)
@pytest.mark.parametrize("viewer_index", range(4))
def test_share_table_on_paths(world: World, share: str, viewer_index: int) -> None:
    viewer = VIEWERS[viewer_index]
    answer = world.get(None, f"/@alice/dev/apps/path-{share}/some/where?q=1", viewer)
    expected = PATH_TABLE[share][viewer_index]
    assert answer.status_code == expected, answer.text
    if expected == 200:
        assert _echoed(answer)["target"] == "/some/where?q=1"
    elif expected == 303:
        assert answer.headers["location"] == (
            "/login?redirect=%2F%40alice%2Fdev%2Fapps%2Fpath-" + share + "%2Fsome%2Fwhere%3Fq%3D1"
        )


PORT_TABLE = {
    "unshared": (200, 404, 200, 303),
    "authenticated": (200, 200, 200, 303),
    "public": (200, 200, 200, 200),
}


@pytest.mark.parametrize("level", PORT_TABLE)
@pytest.mark.parametrize("viewer_index", range(4))
def test_share_table_on_ports(world: World, level: str, viewer_index: int) -> None:
    port = {
        "unshared": world.echo.port,
        "authenticated": world.shared_port.port,
        "public": world.public_port.port,
    }[level]
    answer = world.get(f"{port}--main--dev--alice", "/p", VIEWERS[viewer_index])
    assert answer.status_code == PORT_TABLE[level][viewer_index], answer.text
    if answer.status_code == 200:
        assert _headers_seen(answer)["host"] == f"localhost:{port}"


def test_https_port_urls_speak_tls_to_the_workspace(world: World) -> None:
    port = world.tls_port.port
    answer = world.get(f"{port}s--main--dev--alice", "/secure", "alice")
    assert _echoed(answer)["target"] == "/secure"
    # The same port over plain HTTP is not an app that answers.
    assert world.get(f"{port}--main--dev--alice", "/", "alice").status_code == 502


def test_unsharing_a_port_takes_effect_at_once(world: World) -> None:
    port = str(world.public_port.port)
    alice = world.tokens["alice"]
    label = f"{port}--main--dev--alice"
    # Each request on a new connection: the kernel spreads them over the server's processes,
    # and every one of them must know of the change at once.
    assert {world.get(label, "/", None).status_code for _ in range(10)} == {200}
    assert world.server.run("ports", "unshare", "dev", port, token=alice).returncode == 0
    try:
        assert {world.get(label, "/", None).status_code for _ in range(10)} == {303}
    finally:
        world.server.run("ports", "share", "dev", port, "--level", "public", token=alice)
    assert {world.get(label, "/", None).status_code for _ in range(10)} == {200}


# --------------------------------------------------------------------- routing


@pytest.mark.parametrize(
    ("host", "routed"),
    [
        ("public--dev--alice.apps.localhost", True),
        ("PUBLIC--Dev--Alice.Apps.LOCALHOST", True),
        ("public--dev--alice.apps.localhost.", True),
        ("public--dev--alice.apps.localhost:1234", True),
        ("some---prefix---public--dev--alice.apps.localhost", True),
        ("public--main--dev--alice.apps.localhost", True),  # an old URL with the agent
        ("public--dev--alice.apps.localhost.evil.test", False),
        ("evil.test", False),
        ("apps.localhost", False),
        ("public--dev--alice.apps.localhost.apps.localhost", False),
    ],
)
def test_host_header_tricks(world: World, host: str, routed: bool) -> None:
    answer = world.get(host, "/api/v1/health")
    if routed:
        assert _echoed(answer)["target"] == "/api/v1/health"
    else:
        assert answer.json() == {"status": "ok"}  # the API, not the app


@pytest.mark.parametrize(
    ("label", "reason"),
    [
        ("not_an_app", "invalid application URL"),
        ("test", "invalid application URL"),
        ("1--2--3--4--5", "invalid application URL"),
        ("-app--dev--alice", "invalid application URL"),
        ("8080--dev--alice", "agent name is required for port-based URLs"),
        ("0008--main--dev--alice", "ports below 9 are reserved"),
    ],
)
def test_unparsable_labels_get_a_400_page(world: World, label: str, reason: str) -> None:
    answer = world.get(label, "/", "alice")
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert "Invalid application URL" in answer.text
    assert reason in answer.text.replace("&#x27;", "'")


def test_port_8080ss_is_an_app_slug_that_does_not_exist(world: World) -> None:
    assert world.get("8080ss--main--dev--alice", "/", "alice").status_code == 404


@pytest.mark.parametrize(
    "label",
    ["missing--dev--alice", "owner--nope--alice", "owner--dev--nobody", "path-public--dev--alice"],
)
def test_unknown_apps_get_a_404_page(world: World, label: str) -> None:
    answer = world.get(label, "/", "alice")
    assert answer.status_code == 404
    assert "Application not found" in answer.text


def test_unknown_ports_and_agents_get_a_404(world: World) -> None:
    assert world.get("9999--other--dev--alice", "/", "alice").status_code == 404


@pytest.mark.parametrize(
    ("host", "target"), [("down--dev--alice", "/"), (None, "/@alice/dev/apps/path-down/")]
)
def test_a_refused_connection_gets_a_502_page_that_says_so(
    world: World, host: str | None, target: str
) -> None:
    answer = world.get(host, target, "alice")
    assert answer.status_code == 502
    assert "Application unavailable" in answer.text
    assert str(world.closed_port) in answer.text and "refused" in answer.text


def test_path_access_adds_the_trailing_slash_with_a_307(world: World) -> None:
    answer = world.get(None, "/@alice/dev/apps/path-public?x=1", "alice")
    assert answer.status_code == 307
    assert answer.headers["location"] == "/@alice/dev/apps/path-public/?x=1"
    answer = world.get(None, "/%40alice/dev/apps/path-public", "alice")
    assert answer.headers["location"] == "/%40alice/dev/apps/path-public/"


def test_path_access_with_the_agent_name(world: World) -> None:
    assert _echoed(world.get(None, "/@alice/dev.main/apps/path-public/", None))["target"] == "/"
    assert world.get(None, "/@alice/dev.other/apps/path-public/", "alice").status_code == 404


def test_subdomain_apps_are_not_served_at_paths(world: World) -> None:
    assert world.get(None, "/@alice/dev/apps/public/", "alice").status_code == 404


def test_the_apps_own_query_is_its_default(world: World) -> None:
    answer = world.get("folder--dev--alice", "/")
    assert answer.status_code == 307
    assert answer.headers["location"] == "/?folder=/home/coder"
    assert _echoed(world.get("folder--dev--alice", "/?folder=/tmp"))["target"] == "/?folder=/tmp"


def test_the_apps_base_path_prefixes_the_request(world: World) -> None:
    assert _echoed(world.get("based--dev--alice", "/x/y?z=1"))["target"] == "/base/x/y?z=1"


def test_what_the_app_receives(world: World) -> None:
    answer = world.get(
        "owner--dev--alice",
        "/h",
        "alice",
        headers={
            "Cookie": "theme=dark; templater_session=abc; templater_app_session=def; b=2",
            "X-Forwarded-For": "10.1.2.3",
            "X-Custom": "kept",
        },
    )
    seen = _headers_seen(answer)
    assert seen["host"] == f"localhost:{world.echo.port}"
    assert seen["cookie"] == "theme=dark; b=2"
    assert "templater-session-token" not in seen
    assert seen["x-forwarded-for"] == "10.1.2.3, 127.0.0.1"
    assert seen["x-forwarded-host"] == f"owner--dev--alice.{WILDCARD}"
    assert seen["x-forwarded-proto"] == "http"
    assert seen["x-custom"] == "kept"


def test_methods_bodies_and_framings_pass_through(world: World) -> None:
    posted = _echoed(world.get("public--dev--alice", "/p", method="POST", content=b"abc" * 1000))
    assert (posted["method"], posted["received"]) == ("POST", 3000)

    def pieces() -> Iterator[bytes]:
        yield b"first "
        yield b"second"

    chunked = _echoed(world.get("public--dev--alice", "/c", method="PUT", content=pieces()))
    assert (chunked["method"], chunked["received"]) == ("PUT", 12)
    rechunked = world.get("public--dev--alice", "/chunked")
    assert rechunked.headers["transfer-encoding"] == "chunked"
    assert _echoed(rechunked)["target"] == "/chunked"
    until_close = world.get("public--dev--alice", "/until-close")
    assert (until_close.text, until_close.headers["connection"]) == ("all of it", "close")
    assert _echoed(world.get("public--dev--alice", "/early-hints"))["target"] == "/early-hints"
    head = world.get("public--dev--alice", "/h", method="HEAD")
    assert head.status_code == 200 and head.content == b""
    assert world.get("public--dev--alice", "/?status=418").status_code == 418


def test_keep_alive_on_both_sides(world: World) -> None:
    """One client connection carries many requests, and the router reuses its connections to
    the app rather than opening one per request."""
    peers: set[int] = set()
    with httpx.Client(base_url=world.server.url) as client:
        for index in range(40):
            label = "public" if index % 2 else "based"
            answer = client.get(f"/n{index}", headers={"Host": f"{label}--dev--alice.{WILDCARD}"})
            peers.add(_echoed(answer)["peer_port"])
        assert client.get("/api/v1/health").json() == {"status": "ok"}
    assert len(peers) <= 2, f"{len(peers)} connections to the app for 40 requests"


# --------------------------------------------------------------------- sign-in (SPEC §6)


def _cookie(response: httpx.Response, name: str) -> tuple[str, str]:
    """The value and attributes of ``name`` in the response's Set-Cookie headers."""
    for header in response.headers.get_list("set-cookie"):
        key, _, rest = header.partition("=")
        if key == name:
            value, _, attributes = rest.partition(";")
            return value, attributes.strip()
    raise AssertionError(f"no {name} cookie in {response.headers}")


def _sign_in(world: World, user: str, redirect: str, token: str | None = None) -> httpx.Response:
    with httpx.Client(base_url=world.server.url, timeout=30) as client:
        return sign_in(client, user, token or world.tokens[user], redirect)


def test_auth_redirect_round_trip(world: World) -> None:
    app_host = f"owner--dev--alice.{WILDCARD}"
    first = world.get("owner--dev--alice", "/deep/page?x=1")
    assert first.status_code == 303
    auth_redirect = urlsplit(first.headers["location"])
    auth_target = f"{auth_redirect.path}?{auth_redirect.query}"

    not_signed_in = world.get(None, auth_target)
    assert not_signed_in.status_code == 303
    login = urlsplit(not_signed_in.headers["location"])
    assert login.path == "/login"
    assert world.get(None, not_signed_in.headers["location"]).status_code == 200  # the form
    redirect = parse_qs(login.query)["redirect"][0]
    assert redirect == auth_target

    wrong = _sign_in(world, "bob", "/", token=world.tokens["alice"])
    assert wrong.status_code == 401 and "do not match" in wrong.text

    signed_in = _sign_in(world, "alice", redirect)
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == redirect
    session, attributes = _cookie(signed_in, "templater_session")
    assert "HttpOnly" in attributes and "SameSite=Lax" in attributes

    with_ticket = world.get(None, redirect, headers={"Cookie": f"templater_session={session}"})
    assert with_ticket.status_code == 303
    back = urlsplit(with_ticket.headers["location"])
    assert back.netloc == f"{app_host}:{urlsplit(world.server.url).port}"
    assert back.path == "/deep/page"
    ticket_target = f"{back.path}?{back.query}"
    assert parse_qs(back.query)["x"] == ["1"] and "templater_ticket" in back.query

    redeemed = world.get(app_host, ticket_target)
    assert redeemed.status_code == 303
    assert redeemed.headers["location"] == "/deep/page?x=1"
    app_session, attributes = _cookie(redeemed, "templater_app_session")
    assert (
        attributes == "Path=/; Max-Age=86400; HttpOnly; SameSite=Lax"
    )  # no Domain: this host only

    cookie = {"Cookie": f"templater_app_session={app_session}; theme=dark"}
    opened = world.get(app_host, "/deep/page?x=1", headers=cookie)
    assert _headers_seen(opened)["cookie"] == "theme=dark"

    reused = world.get(app_host, ticket_target)
    assert reused.status_code == 400 and "set-cookie" not in reused.headers
    assert "expired or was already used" in reused.text

    # The app session is for that host only; the access URL's session opens nothing on app hosts.
    assert world.get("authenticated--dev--alice", "/", headers=cookie).status_code == 303
    other = {"Cookie": f"templater_app_session={session}; templater_session={session}"}
    assert world.get(app_host, "/", headers=other).status_code == 303


def _ticket_for(world: World, user: str, app_label: str) -> str:
    session, _ = _cookie(_sign_in(world, user, "/"), "templater_session")
    uri = f"http://{app_label}.{WILDCARD}:{urlsplit(world.server.url).port}/"
    answer = world.get(
        None,
        "/api/v1/applications/auth-redirect",
        headers={"Cookie": f"templater_session={session}"},
        params={"redirect_uri": uri},
    )
    assert answer.status_code == 303
    return parse_qs(urlsplit(answer.headers["location"]).query)["templater_ticket"][0]


def test_an_expired_ticket_is_refused(world: World) -> None:
    ticket = _ticket_for(world, "alice", "owner--dev--alice")
    with sqlite3.connect(world.server.data_dir / "templater.db") as database:
        database.execute("UPDATE app_tickets SET expires_at = '2000-01-01 00:00:00.000000'")
    answer = world.get("owner--dev--alice", f"/?templater_ticket={ticket}")
    assert answer.status_code == 400 and "set-cookie" not in answer.headers


def test_a_ticket_works_only_on_the_app_host_it_was_issued_for(world: World) -> None:
    ticket = _ticket_for(world, "alice", "owner--dev--alice")
    answer = world.get("authenticated--dev--alice", f"/?templater_ticket={ticket}")
    assert answer.status_code == 400
    # ...and presenting it elsewhere used it up.
    assert world.get("owner--dev--alice", f"/?templater_ticket={ticket}").status_code == 400


def test_a_signed_in_user_is_still_held_to_the_share_level(world: World) -> None:
    ticket = _ticket_for(world, "bob", "owner--dev--alice")
    redeemed = world.get("owner--dev--alice", f"/?templater_ticket={ticket}")
    session, _ = _cookie(redeemed, "templater_app_session")
    cookie = {"Cookie": f"templater_app_session={session}"}
    assert world.get("owner--dev--alice", "/", headers=cookie).status_code == 404


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.test/",
        "http://owner--dev--alice.apps.localhost.evil.test/",
        "http://evil.test/?x=owner--dev--alice.apps.localhost",
        "//owner--dev--alice.apps.localhost/",
        "javascript:alert(1)",
    ],
)
def test_auth_redirect_never_sends_a_browser_elsewhere(world: World, redirect_uri: str) -> None:
    session, _ = _cookie(_sign_in(world, "alice", "/"), "templater_session")
    answer = world.get(
        None,
        "/api/v1/applications/auth-redirect",
        headers={"Cookie": f"templater_session={session}"},
        params={"redirect_uri": redirect_uri},
    )
    assert answer.status_code == 400 and "location" not in answer.headers


@pytest.mark.parametrize("redirect", ["https://evil.test/", "//evil.test/", "/\\evil.test"])
def test_sign_in_never_sends_a_browser_elsewhere(world: World, redirect: str) -> None:
    assert _sign_in(world, "alice", redirect).headers["location"] == "/"


def test_path_apps_use_the_access_url_session(world: World) -> None:
    session, _ = _cookie(_sign_in(world, "alice", "/"), "templater_session")
    cookie = {"Cookie": f"templater_session={session}; theme=dark"}
    answer = world.get(None, "/@alice/dev/apps/path-owner/", headers=cookie)
    assert _headers_seen(answer)["cookie"] == "theme=dark"
    home = world.get(None, "/", headers=cookie)
    assert "Signed in as <strong>alice</strong>" in home.text
    assert "/@alice/dev/apps/path-owner/" in home.text


# --------------------------------------------------------------------- CORS (SPEC §7)

ALICE_ORIGIN = f"http://authenticated--dev--alice.{WILDCARD}"
ALICE_OTHER_WORKSPACE = f"http://app--other--alice.{WILDCARD}:9999"
BOB_ORIGIN = f"http://notes--lab--bob.{WILDCARD}"


@pytest.mark.parametrize("origin", [ALICE_ORIGIN, ALICE_OTHER_WORKSPACE])
def test_preflight_from_the_same_user_is_answered_without_sign_in(
    world: World, origin: str
) -> None:
    answer = world.get(
        "owner--dev--alice",
        "/api",
        method="OPTIONS",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "x-foobar, content-type",
        },
    )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == origin
    assert answer.headers["access-control-allow-credentials"] == "true"
    assert answer.headers["access-control-allow-methods"] == "PUT"
    assert answer.headers["access-control-allow-headers"] == "x-foobar, content-type"
    assert answer.headers["vary"] == (
        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
    )
    assert answer.content == b""


def test_preflight_from_another_users_app_gets_no_acao(world: World) -> None:
    answer = world.get(
        "owner--dev--alice",
        "/api",
        method="OPTIONS",
        headers={"Origin": BOB_ORIGIN, "Access-Control-Request-Method": "GET"},
    )
    assert answer.status_code == 200
    assert "access-control-allow-origin" not in answer.headers
    assert "access-control-allow-credentials" not in answer.headers


def test_options_without_a_preflight_header_reaches_the_app(world: World) -> None:
    answer = world.get("public--dev--alice", "/o", method="OPTIONS", headers={"Origin": BOB_ORIGIN})
    assert _echoed(answer)["method"] == "OPTIONS"


@pytest.mark.parametrize(("origin", "allowed"), [(ALICE_ORIGIN, True), (BOB_ORIGIN, False)])
def test_requests_get_acao_only_from_the_same_user(
    world: World, origin: str, allowed: bool
) -> None:
    answer = world.get("owner--dev--alice", "/r", "alice", headers={"Origin": origin})
    assert answer.status_code == 200
    assert answer.headers["vary"] == "Origin"
    if allowed:
        assert answer.headers["access-control-allow-origin"] == origin
        assert answer.headers["access-control-allow-credentials"] == "true"
    else:
        assert "access-control-allow-origin" not in answer.headers


def test_the_apps_own_cors_headers_are_stripped(world: World) -> None:
    """Coder's CORSHeadersStripped case: only X-Foobar survives of the app's Vary values."""
    answer = world.get("public--dev--alice", "/cors-mess")
    assert answer.status_code == 200
    names = {name.lower() for name in answer.headers}
    assert not names & {
        "access-control-allow-origin",
        "access-control-allow-credentials",
        "access-control-allow-methods",
        "access-control-allow-headers",
    }
    assert answer.headers.get_list("vary") == ["Origin, X-Foobar"]
    assert answer.headers["x-foobar"] == "baz"


def test_path_apps_keep_their_own_headers(world: World) -> None:
    answer = world.get(None, "/@alice/dev/apps/path-public/cors-mess")
    assert answer.headers.get_list("access-control-allow-origin") == ["http://evil.test"] * 2


# --------------------------------------------------------------------- WebSockets and big bodies


def test_websocket_echo_through_the_proxy(world: World) -> None:
    port = urlsplit(world.server.url).port
    sock = socket.create_connection(("127.0.0.1", port))
    with connect(f"ws://chat--dev--alice.{WILDCARD}:{port}/socket", sock=sock) as websocket:
        for message in ("hello", "x" * 100_000, b"\x00\x01binary"):
            websocket.send(message)
            assert websocket.recv(timeout=10) == message


HUNDRED_MB = 100 * 1024 * 1024


def test_100_mb_up_and_down_stream_with_bounded_memory(world: World) -> None:
    block = b"y" * (256 * 1024)

    def upload() -> Iterator[bytes]:
        for _ in range(HUNDRED_MB // len(block)):
            yield block

    with (
        memory_growth(world.server.process.pid) as growth,
        httpx.Client(base_url=world.server.url, timeout=120) as client,
    ):
        host = {"Host": f"public--dev--alice.{WILDCARD}"}
        sized = {**host, "Content-Length": str(HUNDRED_MB)}
        uploaded = client.post("/upload", content=upload(), headers=sized)
        assert uploaded.json()["received"] == HUNDRED_MB
        uploaded = client.post("/upload", content=upload(), headers=host)  # chunked
        assert uploaded.json()["received"] == HUNDRED_MB
        received = 0
        with client.stream("GET", f"/download?bytes={HUNDRED_MB}", headers=host) as download:
            assert download.headers["content-length"] == str(HUNDRED_MB)
            for piece in download.iter_raw():
                received += len(piece)
        assert received == HUNDRED_MB
    grown = growth()
    assert len(grown) > 1, "the server runs more than one process on the front port"
    for member, amount in grown.items():
        assert amount < 32 * 1024 * 1024, f"process {member} grew by {amount / 2**20:.1f} MiB"


def test_the_api_is_still_served_behind_the_router(world: World) -> None:
    with world.server.api(world.tokens["alice"]) as client:
        assert client.get("/api/v1/users/me").json()["name"] == "alice"
        apps = client.get("/api/v1/apps").json()
    urls = {app["slug"]: app["access_url"] for app in apps}
    port = urlsplit(world.server.url).port
    assert urls["owner"] == f"http://owner--dev--alice.{WILDCARD}:{port}/"
    assert urls["path-owner"] == f"{world.server.url}/@alice/dev/apps/path-owner/"


@pytest.mark.parametrize(("slug_length", "over"), [(50, 0), (51, 1), (60, 10)])
def test_apply_refuses_an_app_whose_label_is_over_63_characters(
    world: World, slug_length: int, over: int
) -> None:
    slug = "a" * slug_length  # the label is slug--wide--alice: 13 more characters
    app = _app(slug, world.echo.port, "owner")
    answer = put_workspace(world.server, world.tokens["alice"], "alice", "wide", [app])
    if over == 0:
        assert answer.status_code == 200, answer.text
        with world.server.api(world.tokens["alice"]) as client:
            client.delete("/api/v1/workspaces/alice/wide")
        return
    assert answer.status_code == 422
    characters = "character" if over == 1 else "characters"
    assert f"is {over} {characters} over the 63 a DNS label may have" in answer.json()["message"]


def _raw(world: World, data: bytes) -> bytes:
    """What the server answers to ``data`` sent as is, until it closes or goes quiet."""
    port = urlsplit(world.server.url).port
    assert port is not None
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(data)
        try:
            while piece := connection.recv(65536):
                answer += piece
        except TimeoutError:
            pass
    return answer


@pytest.mark.parametrize(
    "request_bytes",
    [
        # Both framings at once: the classic request-smuggling shape.
        b"POST / HTTP/1.1\r\nHost: public--dev--alice.apps.localhost\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"NOT HTTP AT ALL\r\n\r\n",
    ],
)
def test_malformed_requests_get_a_400_and_the_connection_closed(
    world: World, request_bytes: bytes
) -> None:
    answer = _raw(world, request_bytes)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"Connection: close\r\n" in answer


@pytest.mark.parametrize(
    ("request_bytes", "status_line"),
    [
        (b"GET /" + b"a" * 8200 + b" HTTP/1.1\r\nHost: x\r\n\r\n", b"414 Request-URI Too Long"),
        (
            b"GET / HTTP/1.1\r\nHost: public--dev--alice.apps.localhost\r\nX: "
            + b"a" * 70_000
            + b"\r\n\r\n",
            b"431 Request Header Fields Too Large",
        ),
    ],
    ids=["target", "headers"],
)
def test_a_request_head_over_the_limits_is_refused_with_its_status(
    world: World, request_bytes: bytes, status_line: bytes
) -> None:
    answer = _raw(world, request_bytes)
    assert answer.startswith(b"HTTP/1.1 " + status_line + b"\r\n"), answer[:100]
    assert b"Connection: close\r\n" in answer


def test_the_routers_own_answers_keep_the_connection(world: World) -> None:
    """A page or redirect decided at once (the lookup cached) comes before the parser has seen
    the end of its request: the connection must still carry the next request."""
    port = urlsplit(world.server.url).port
    assert port is not None
    request = b"GET /x HTTP/1.1\r\nHost: owner--dev--alice.apps.localhost\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        for _ in range(4):
            connection.sendall(request)
            answer = b""
            while b"\r\n\r\n" not in answer:
                piece = connection.recv(65536)
                assert piece, "the router closed a connection it had kept alive"
                answer += piece
            head, _, body = answer.partition(b"\r\n\r\n")
            length = int(re.search(rb"\r\nContent-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
            while len(body) < length:
                body += connection.recv(65536)
            assert head.startswith(b"HTTP/1.1 303") and b"Connection: close" not in head


def test_http_1_0_clients_get_a_whole_response_and_a_close(world: World) -> None:
    """The upstream is asked in HTTP/1.0 too, so it answers without chunks."""
    answer = _raw(
        world, b"GET /chunked HTTP/1.0\r\nHost: public--dev--alice.apps.localhost\r\n\r\n"
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"Transfer-Encoding" not in head and b"Connection: close" in head
    assert json.loads(body)["target"] == "/chunked"


def test_pipelined_requests_are_answered_in_order(world: World) -> None:
    one = b"GET /first HTTP/1.1\r\nHost: public--dev--alice.apps.localhost\r\n\r\n"
    two = b"GET /second HTTP/1.1\r\nHost: based--dev--alice.apps.localhost\r\nConnection: close\r\n\r\n"
    answer = _raw(world, one + two)
    assert answer.count(b"HTTP/1.1 200 OK") == 2
    assert answer.index(b'"/first"') < answer.index(b'"/base/second"')


def _running(pid: int) -> bool:
    """Whether ``pid`` is a process that has not ended (a zombie has)."""
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def test_a_killed_server_leaves_its_port_free_for_a_restart(tmp_path: Path) -> None:
    """SIGKILL gives the main process no chance to stop its workers: they end with it, and the
    port is free again."""
    port = _closed_port()
    running = start_server(tmp_path / "data", tmp_path / "home", "--workers", "3", port=port)
    assert eventually(lambda: len(family(running.process.pid)) >= 3), "the workers never started"
    workers = family(running.process.pid)[1:]
    running.process.kill()
    running.process.wait(timeout=30)
    assert eventually(lambda: not any(_running(pid) for pid in workers)), (
        "the workers outlived the server"
    )
    assert eventually(lambda: port_free(port)), f"port {port} is still held"
    again = start_server(tmp_path / "data", tmp_path / "home", port=port)
    try:
        assert httpx.get(f"{again.url}/api/v1/health").json() == {"status": "ok"}
    finally:
        again.process.terminate()
        again.process.wait(timeout=30)


def test_expect_100_continue_is_answered_before_the_body_is_sent(world: World) -> None:
    port = urlsplit(world.server.url).port
    assert port is not None
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(
            b"POST /e HTTP/1.1\r\nHost: public--dev--alice.apps.localhost\r\n"
            b"Content-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        assert connection.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        connection.sendall(b"hello")
        answer = b""
        while not answer.endswith(b"}"):
            answer += connection.recv(65536)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    echoed = json.loads(body)
    assert echoed["received"] == 5
    assert "expect" not in {name.lower() for name, _ in echoed["headers"]}
