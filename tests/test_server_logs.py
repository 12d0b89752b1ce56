"""What the server logs on stderr, in both formats: a line per request (API and apps, in any
worker process, each exactly once, never a secret), per apply, per destroy and per change of
health; and how a start waits for a port that is still held."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from .agents import start_agent
from .test_server import (
    Server,
    app_json,
    apply_apps,
    eventually,
    free_port,
    launch_server,
    new_user,
    sign_in,
    start_server,
)
from .upstreams import EchoApp

APP_HOST = "web--dev--alice.apps.localhost"
REQUEST_KEYS = {
    "time",
    "level",
    "message",
    "method",
    "host",
    "path",
    "status",
    "duration_ms",
    "user",
}
_TEXT_LINE = re.compile(
    r"(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (?P<level>[A-Z]+) (?P<rest>.*)"
)
_TEXT_FIELD = re.compile(r' (\w+)=("(?:[^"\\]|\\.)*"|[^ "]*)')


def parse(log_format: str, line: str) -> dict[str, Any]:
    """A log line as a dict: ``time``, ``level``, ``message`` and the fields (as text, in the
    text format)."""
    if log_format == "json":
        entry = json.loads(line)
        assert isinstance(entry, dict), line
        return entry
    matched = _TEXT_LINE.fullmatch(line)
    assert matched is not None, f"not a log line: {line!r}"
    rest = matched["rest"]
    first = _TEXT_FIELD.search(rest)
    start = first.start() if first is not None else len(rest)
    fields = _TEXT_FIELD.findall(rest, start)
    assert "".join(f" {key}={value}" for key, value in fields) == rest[start:], line
    entry = {"time": matched["time"], "level": matched["level"], "message": rest[:start]}
    for key, value in fields:
        quoted = value.startswith('"')
        entry[key] = value[1:-1].encode().decode("unicode_escape") if quoted else value
    return entry


def entries(server: Server, log_format: str) -> list[dict[str, Any]]:
    """The entries of the server's log so far (a line still being written left out)."""
    return [parse(log_format, line) for line in server.log().split("\n")[:-1]]


def lines_of(found: list[dict[str, Any]], message: str, **fields: object) -> list[dict[str, Any]]:
    """The entries of ``message`` whose fields have these values (compared as text)."""
    return [
        entry
        for entry in found
        if entry["message"] == message
        and all(str(entry.get(key)) == str(value) for key, value in fields.items())
    ]


@dataclass
class Logged:
    """A server's whole log, after a scenario of requests, an apply, health changes and a
    destroy; and the secrets that travelled in it."""

    log_format: str
    text: str
    entries: list[dict[str, Any]]
    secrets: dict[str, str]
    host: str


@pytest.fixture(scope="module", params=["text", "json"])
def logged(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Logged]:
    log_format: str = request.param
    tmp = tmp_path_factory.mktemp(f"logs-{log_format}")
    echo = EchoApp()
    server = start_server(tmp / "data", tmp / "home", "--log-format", log_format, "--workers", "2")
    try:
        yield _scenario(server, log_format, echo)
    finally:
        if server.process.poll() is None:
            server.process.kill()
        echo.close()


def _scenario(server: Server, log_format: str, echo: EchoApp) -> Logged:
    alice = new_user(server, "alice")
    port = urlsplit(server.url).port
    apply_apps(
        server,
        alice,
        "alice",
        "dev",
        [
            app_json("web", echo.port, (1, 1)),
            app_json("gone", free_port(), (1, 1)),  # nothing listens: unhealthy
        ],
    )
    agent = start_agent(server, alice, "alice", "dev")
    assert eventually(lambda: len(lines_of(entries(server, log_format), "health")) >= 2)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for _ in range(3):
            response = client.get(
                "/api/v1/workspaces/alice/dev", headers={"Authorization": f"Bearer {alice}"}
            )
            assert response.status_code == 200
    as_alice = {"Host": APP_HOST, "Templater-Session-Token": alice}
    for _ in range(5):  # a connection each: any of the worker processes may take it
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert client.get("/hello?q=1", headers=as_alice).status_code == 200
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.get("/anonymous", headers={"Host": APP_HOST}).status_code == 303
        # Signing in with a browser: a session cookie, a ticket in a query, an app cookie.
        signed_in = sign_in(client, "alice", alice)
        assert signed_in.status_code == 303
        session = signed_in.cookies["templater_session"]
        back = client.get(
            "/api/v1/applications/auth-redirect",
            params={"redirect_uri": f"http://{APP_HOST}:{port}/page"},
            headers={"Cookie": f"templater_session={session}"},
        )
        assert back.status_code == 303
        location = urlsplit(back.headers["location"])
        ticket = parse_qs(location.query)["templater_ticket"][0]
        redeemed = client.get(f"/page?{location.query}", headers={"Host": APP_HOST})
        assert redeemed.status_code == 303
        app_session = redeemed.cookies["templater_app_session"]
        cookie = {"Host": APP_HOST, "Cookie": f"templater_app_session={app_session}"}
        assert client.get("/page", headers=cookie).status_code == 200
        destroyed = client.delete(
            "/api/v1/workspaces/alice/dev", headers={"Authorization": f"Bearer {alice}"}
        )
        assert destroyed.status_code == 200
    agent.stop()
    server.process.terminate()
    assert server.process.wait(timeout=60) == 0
    secrets = {
        "admin token": server.admin_token,
        "alice's token": alice,
        "session cookie": session,
        "ticket": ticket,
        "app cookie": app_session,
        "agent token": agent.token,
    }
    return Logged(
        log_format, server.log(), entries(server, log_format), secrets, f"127.0.0.1:{port}"
    )


def test_every_line_is_one_entry_of_the_format(logged: Logged) -> None:
    """Nothing but entries: no traceback, no uvicorn line of its own."""
    assert logged.entries[0]["message"] == "created the admin user"
    assert any(entry["message"] == "listening" for entry in logged.entries)
    assert logged.entries[-1]["message"] == "stopped"
    assert {entry["level"] for entry in logged.entries} == {"INFO"}
    for entry in lines_of(logged.entries, "request"):
        assert set(entry) == REQUEST_KEYS
        assert float(entry["duration_ms"]) >= 0
    if logged.log_format == "json":
        assert all(
            isinstance(entry["status"], int) for entry in logged.entries if "status" in entry
        )


def test_an_api_request_is_logged_once_with_its_user(logged: Logged) -> None:
    found = lines_of(logged.entries, "request", method="GET", path="/api/v1/workspaces/alice/dev")
    assert len(found) == 3
    for entry in found:
        assert (entry["host"], str(entry["status"]), entry["user"]) == (logged.host, "200", "alice")
    health = lines_of(logged.entries, "request", path="/api/v1/health")
    assert health and {entry["user"] for entry in health} == {"-"}


def test_app_requests_are_logged_once_from_any_worker(logged: Logged) -> None:
    found = lines_of(logged.entries, "request", host=APP_HOST, path="/hello")
    assert len(found) == 5
    assert {(str(entry["status"]), entry["user"]) for entry in found} == {("200", "alice")}
    anonymous = lines_of(logged.entries, "request", host=APP_HOST, path="/anonymous")
    assert [(str(entry["status"]), entry["user"]) for entry in anonymous] == [("303", "-")]
    page = lines_of(logged.entries, "request", host=APP_HOST, path="/page")
    # The ticket's redemption (its query left out), then the page with the app's cookie.
    assert [(str(entry["status"]), entry["user"]) for entry in page] == [
        ("303", "alice"),
        ("200", "alice"),
    ]
    sign_in = lines_of(logged.entries, "request", method="POST", path="/login")
    assert [(str(entry["status"]), entry["user"]) for entry in sign_in] == [("303", "alice")]


def test_no_token_cookie_or_ticket_is_ever_logged(logged: Logged) -> None:
    for what, secret in logged.secrets.items():
        assert secret not in logged.text, what
    assert "templater_ticket" not in logged.text
    assert all("?" not in str(entry.get("path", "")) for entry in logged.entries)


def test_apply_and_destroy_are_logged(logged: Logged) -> None:
    applied = lines_of(logged.entries, "apply", owner="alice", workspace="dev")
    assert len(applied) == 1
    assert {key: str(value) for key, value in applied[0].items() if key not in ("time",)} == {
        "level": "INFO",
        "message": "apply",
        "owner": "alice",
        "workspace": "dev",
        "version": "1",
        "created": "3",
        "updated": "0",
        "replaced": "0",
        "deleted": "0",
        "user": "alice",
    }
    destroyed = lines_of(logged.entries, "destroy", owner="alice", workspace="dev")
    assert [entry["user"] for entry in destroyed] == ["alice"]


def test_health_changes_are_logged_with_the_old_and_new_state(logged: Logged) -> None:
    keys = ("owner", "workspace", "slug", "from", "to", "reason")
    changes = {tuple(entry[key] for key in keys) for entry in lines_of(logged.entries, "health")}
    assert changes == {
        ("alice", "dev", "web", "initializing", "healthy", "status 200"),
        ("alice", "dev", "gone", "initializing", "unhealthy", "connection refused"),
    }


# ----------------------------------------------------------------------------- the port


def _held(port: int) -> socket.socket:
    """A plain listening socket on 127.0.0.1:``port``, as an old server's worker would hold."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", port))
    holder.listen()
    return holder


def test_a_start_waits_for_its_port_to_be_let_go(tmp_path: Path) -> None:
    port = free_port()
    holder = _held(port)
    home = tmp_path / "home"

    def retrying() -> bool:
        return any("port is still held" in log.read_text() for log in home.glob("server-*.log"))

    def release() -> None:
        eventually(retrying)
        holder.close()

    releaser = threading.Thread(target=release)
    releaser.start()
    try:
        running = start_server(tmp_path / "data", home, port=port)
    finally:
        releaser.join()
        holder.close()
    try:
        assert httpx.get(f"{running.url}/api/v1/health").json() == {"status": "ok"}
        log = running.log()
        assert log.count("port is still held") == 1
        assert f"address=127.0.0.1:{port}" in log
    finally:
        running.process.terminate()
        running.process.wait(timeout=30)


def test_a_port_held_for_good_fails_the_start_in_one_line(tmp_path: Path) -> None:
    port = free_port()
    log_path = tmp_path / "server.log"
    with _held(port), log_path.open("w") as log:
        process = launch_server(tmp_path / "data", port, log)
        status = process.wait(timeout=120)
    output = log_path.read_text()
    assert status == 2, output
    assert "Traceback" not in output
    assert output.count("port is still held") == 1
    last = output.splitlines()[-1]
    assert last.startswith(f"templater: error: --listen 127.0.0.1:{port}: "), output
    assert "still in use" in last
