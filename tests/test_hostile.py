"""Attacks on a real server (SPEC §15), each as a member or an anonymous client would make it on
loopback: hostile apps in a workspace, and hostile requests to the router."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from .agents import RunningAgent, issue_token, start_agent
from .processes import memory_growth
from .test_server import (
    Server,
    app_json,
    apply_apps,
    eventually,
    free_port,
    launch_server,
    new_user,
    put_workspace,
    serving,
    sign_in,
)

SESSION_HEADER = "Templater-Session-Token"
SWITCHING = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n"


@dataclass
class ScriptedApp:
    """An app in the workspace that answers every request head with ``answer(head)`` and keeps
    its connection open; ``received`` holds every byte it was sent."""

    answer: Callable[[bytes], bytes]
    received: bytearray = field(default_factory=bytearray)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        buffer = b""
        with connection:
            while True:
                try:
                    data = connection.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                with self._lock:
                    self.received += data
                buffer += data
                while b"\r\n\r\n" in buffer:
                    head, _, buffer = buffer.partition(b"\r\n\r\n")
                    try:
                        connection.sendall(self.answer(head))
                    except OSError:
                        return

    def close(self) -> None:
        self._listener.close()


@dataclass
class Hostile:
    server: Server
    alice: str
    agent: RunningAgent
    recorder: ScriptedApp
    """An app that answers 200 with the request line it got; ``pub`` and ``path-pub`` (public,
    subdomain and path access) serve it from ``/pub/``."""

    def port_host(self, port: int) -> str:
        return f"{port}--main--dev--alice.apps.localhost"

    def to_port(self, port: int, line: str = "GET /", headers: str = "") -> bytes:
        """A request of alice's to ``port`` of her workspace, through its port URL: ``line``
        (method and target) and any ``headers`` lines (each ending in CRLF)."""
        return (
            f"{line} HTTP/1.1\r\nHost: {self.port_host(port)}\r\n"
            f"{SESSION_HEADER}: {self.alice}\r\n{headers}\r\n"
        ).encode()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    tmp = tmp_path_factory.mktemp("hostile")
    for server in serving(tmp):
        alice = new_user(server, "alice")
        recorder = ScriptedApp(_request_line_back)
        apps = [app_json("web", 1)]
        web_path = app_json("web-path", 1)
        web_path.update(subdomain=False)
        apps.append(web_path)
        for slug, subdomain in (("pub", True), ("path-pub", False)):
            app = app_json(slug, recorder.port)
            app.update(share="public", subdomain=subdomain, url=f"{app['url']}/pub/")
            apps.append(app)
        apply_apps(server, alice, "alice", "dev", apps)
        agent = start_agent(server, alice, "alice", "dev")
        yield Hostile(server, alice, agent, recorder)
        agent.stop()
        recorder.close()


def _request_line_back(head: bytes) -> bytes:
    line = head.split(b"\r\n", 1)[0]
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(line), line)


def _read_response(connection: socket.socket, bodiless: bool = False) -> bytes:
    """One whole response with a Content-Length body (none when ``bodiless``: the answer to a
    HEAD); b"" when the connection closed first."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        piece = connection.recv(65536)
        if not piece:
            return answer
        answer += piece
    head, _, body = answer.partition(b"\r\n\r\n")
    found = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    length = int(found.group(1)) if found and not bodiless else 0
    while len(body) < length:
        piece = connection.recv(65536)
        if not piece:
            break
        body += piece
    return head + b"\r\n\r\n" + body


def _two_requests(hostile: Hostile, first: bytes, second: bytes) -> tuple[bytes, bytes]:
    """``first`` and then ``second`` on one client connection, and what came back for each (the
    second b"" when the router closed the connection)."""
    port = urlsplit(hostile.server.url).port
    assert port is not None
    with socket.create_connection(("127.0.0.1", port), timeout=15) as connection:
        connection.sendall(first)
        one = _read_response(connection, bodiless=first.startswith(b"HEAD "))
        try:
            connection.sendall(second)
            two = _read_response(connection)
        except OSError:
            two = b""
        with contextlib.suppress(OSError):
            two += connection.recv(65536, socket.MSG_DONTWAIT)
    return one, two


def _health_request(hostile: Hostile) -> bytes:
    authority = urlsplit(hostile.server.url).netloc
    return (
        f"GET /api/v1/health HTTP/1.1\r\nHost: {authority}\r\n"
        "Authorization: Bearer tpk_secret-of-the-victim\r\nCookie: templater_session=victim\r\n\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("method", "answer"),
    [
        (
            "GET",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nPWNED",
        ),
        (
            "GET",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nPWNED",
        ),
        ("HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nPWNED"),
    ],
    ids=["length", "chunked", "head-with-a-body"],
)
def test_what_an_app_sends_after_its_response_never_answers_a_later_request(
    hostile: Hostile, method: str, answer: bytes
) -> None:
    app = ScriptedApp(lambda head: answer)
    try:
        first = hostile.to_port(app.port, f"{method} /")
        one, two = _two_requests(hostile, first, _health_request(hostile))
    finally:
        app.close()
    assert one.startswith(b"HTTP/1.1 "), one
    assert b"PWNED" not in one + two
    assert two == b"" or two.startswith(b"HTTP/1.1 200 OK"), two
    if two:
        assert two.endswith(b'{"status":"ok"}'), two


def test_a_101_the_client_did_not_ask_for_is_refused_and_captures_nothing(
    hostile: Hostile,
) -> None:
    app = ScriptedApp(lambda head: SWITCHING)
    try:
        first = hostile.to_port(app.port)
        one, two = _two_requests(hostile, first, _health_request(hostile))
    finally:
        app.close()
    assert one.startswith(b"HTTP/1.1 502 "), one
    assert b"secret-of-the-victim" not in app.received
    assert b"templater_session=victim" not in app.received
    assert two == b"" or two.startswith(b"HTTP/1.1 200 OK"), two


def test_a_101_the_client_asked_for_still_becomes_a_tunnel(hostile: Hostile) -> None:
    app = ScriptedApp(lambda head: SWITCHING)
    port = urlsplit(hostile.server.url).port
    assert port is not None
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=15) as connection:
            connection.sendall(
                hostile.to_port(app.port, headers="Connection: Upgrade\r\nUpgrade: x\r\n")
            )
            assert _read_response(connection).startswith(b"HTTP/1.1 101 ")
            connection.sendall(b"raw bytes\r\n\r\n")
            for _ in range(100):
                if b"raw bytes" in app.received:
                    break
                threading.Event().wait(0.1)
    finally:
        app.close()
    assert b"raw bytes" in app.received


def _head_of(hostile: Hostile, request: bytes) -> bytes:
    port = urlsplit(hostile.server.url).port
    assert port is not None
    with socket.create_connection(("127.0.0.1", port), timeout=15) as connection:
        connection.sendall(request)
        return _read_response(connection)


def _location(answer: bytes) -> str:
    found = re.search(rb"\r\nLocation: ([^\r]*)", answer)
    assert found is not None, answer
    return found.group(1).decode("latin-1")


@pytest.mark.parametrize("target", ["//evil.example/steal", "/\\evil.example/steal"])
def test_signing_in_to_an_app_never_redirects_to_another_host(
    hostile: Hostile, target: str
) -> None:
    port = urlsplit(hostile.server.url).port
    app_host = f"web--dev--alice.apps.localhost:{port}"
    first = _head_of(hostile, f"GET {target} HTTP/1.1\r\nHost: {app_host}\r\n\r\n".encode())
    assert first.startswith(b"HTTP/1.1 303 ")
    auth_redirect = urlsplit(_location(first))
    with httpx.Client(base_url=hostile.server.url, timeout=30) as client:
        signed_in = sign_in(client, "alice", hostile.alice)
        assert signed_in.status_code == 303
        with_ticket = client.get(f"{auth_redirect.path}?{auth_redirect.query}")
    assert with_ticket.status_code == 303, with_ticket.text
    back = urlsplit(with_ticket.headers["location"])
    redeemed = _head_of(
        hostile, f"GET {back.path}?{back.query} HTTP/1.1\r\nHost: {app_host}\r\n\r\n".encode()
    )
    assert redeemed.startswith(b"HTTP/1.1 303 ")
    location = _location(redeemed)
    assert location.startswith("/") and location[1:2] not in ("/", "\\"), location
    expired = _head_of(
        hostile,
        f"GET {back.path}?{back.query} HTTP/1.1\r\nHost: {app_host}\r\n\r\n".encode(),
    )  # the ticket was used: a 400 page, whose link stays on this host too
    assert expired.startswith(b"HTTP/1.1 400 ")
    [link] = re.findall(rb'href="([^"]*)"', expired)
    assert link.startswith(b"/") and link[1:2] not in (b"/", b"\\"), link


@pytest.mark.parametrize(
    "climb",
    [
        "/../private.txt",
        "/%2e%2e/private.txt",
        "/%2E%2e/private.txt",
        "/a/..%2f..%2fprivate.txt",
        "/..%5cprivate.txt",
        "/a/b/../../../private.txt",
    ],
)
@pytest.mark.parametrize("access", ["subdomain", "path"])
def test_a_path_cannot_climb_above_the_apps_base(hostile: Hostile, climb: str, access: str) -> None:
    port = urlsplit(hostile.server.url).port
    if access == "subdomain":
        request = f"GET {climb} HTTP/1.1\r\nHost: pub--dev--alice.apps.localhost:{port}\r\n\r\n"
    else:
        target = f"/@alice/dev/apps/path-pub{climb}"
        request = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    answer = _head_of(hostile, request.encode())
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:300]
    assert b"private.txt" not in hostile.recorder.received


@pytest.mark.parametrize("access", ["subdomain", "path"])
def test_dot_segments_that_stay_below_the_base_reach_the_app(hostile: Hostile, access: str) -> None:
    port = urlsplit(hostile.server.url).port
    if access == "subdomain":
        request = f"GET /a/../b.txt HTTP/1.1\r\nHost: pub--dev--alice.apps.localhost:{port}\r\n\r\n"
    else:
        request = (
            f"GET /@alice/dev/apps/path-pub/a/../b.txt HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
        )
    answer = _head_of(hostile, request.encode())
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]
    assert answer.endswith(b"GET /pub/a/../b.txt HTTP/1.1")


def _modes(data: Path) -> dict[str, int]:
    return {
        path.name: stat.S_IMODE(path.stat().st_mode)
        for path in [data, *data.iterdir()]
        if path.name.startswith("templater.db") or path in (data, data / "admin-token")
    }


def test_the_data_directory_and_database_are_the_owners_only(tmp_path: Path) -> None:
    """The database holds the session-signing secret: readable by anyone, it forges sessions."""
    data = tmp_path / "data"
    for server in serving(tmp_path):
        new_user(server, "alice")  # a write: the WAL and shared-memory files exist now
        modes = _modes(data)
    assert modes.pop("data") == 0o700
    assert {"templater.db", "admin-token"} <= set(modes)
    assert set(modes.values()) == {0o600}, modes

    # One made before (0644 in a 0755 directory) is tightened when the server starts.
    os.chmod(data, 0o755)
    for path in data.iterdir():
        os.chmod(path, 0o644)
    for server in serving(tmp_path):
        new_user(server, "bob")
        modes = _modes(data)
    assert modes.pop("data") == 0o700
    assert set(modes.values()) == {0o600}, modes


def test_a_templater_token_in_authorization_never_reaches_an_app(hostile: Hostile) -> None:
    port = urlsplit(hostile.server.url).port
    host = f"pub--dev--alice.apps.localhost:{port}"
    before = len(hostile.recorder.received)
    for credentials in (f"Bearer {hostile.alice}", "Basic YXBwOnNlY3JldA=="):
        answer = _head_of(
            hostile,
            f"GET /x HTTP/1.1\r\nHost: {host}\r\nAuthorization: {credentials}\r\n\r\n".encode(),
        )
        assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]
    seen = bytes(hostile.recorder.received[before:])
    assert hostile.alice.encode() not in seen
    assert b"Authorization: Basic YXBwOnNlY3JldA==" in seen  # the app's own credentials pass


@pytest.mark.parametrize("where", ["http://{host}:22/", "https://{host}:{port}/", "http://{host}/"])
def test_a_sign_in_ticket_goes_only_to_the_scheme_and_port_apps_are_served_at(
    hostile: Hostile, where: str
) -> None:
    port = urlsplit(hostile.server.url).port
    redirect_uri = where.format(host="web--dev--alice.apps.localhost", port=port)
    with httpx.Client(base_url=hostile.server.url, timeout=30) as client:
        sign_in(client, "alice", hostile.alice)
        answer = client.get(
            "/api/v1/applications/auth-redirect", params={"redirect_uri": redirect_uri}
        )
        assert answer.status_code == 400, answer.headers
        assert "templater_ticket" not in answer.text
        right = f"http://web--dev--alice.apps.localhost:{port}/"
        served = client.get("/api/v1/applications/auth-redirect", params={"redirect_uri": right})
        assert served.status_code == 303 and "templater_ticket" in served.headers["location"]


def test_a_second_server_on_the_same_sqlite_database_is_refused(tmp_path: Path) -> None:
    for first in serving(tmp_path):
        with (tmp_path / "second.log").open("w") as log:
            second = launch_server(first.data_dir, free_port(), log)
            try:
                status = second.wait(timeout=60)
            finally:  # a second server that did start must not outlive the test
                if second.poll() is None:
                    second.kill()
                    second.wait()
        said = (tmp_path / "second.log").read_text()
        assert status == 2, said
        assert f"another templater server (pid {first.process.pid})" in said
        assert "Traceback" not in said
        with httpx.Client(base_url=first.url, timeout=30) as client:  # the first serves on
            assert client.get("/api/v1/health").status_code == 200
    # Once the first has stopped, the next one starts.
    for again in serving(tmp_path):
        assert again.process.poll() is None


def _anonymous(hostile: Hostile, host: str, target: str = "/") -> tuple[int, str]:
    answer = _head_of(hostile, f"GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    status = int(answer.split(b" ", 2)[1])
    location = urlsplit(_location(answer)) if status == 303 else None
    return status, location.path if location else answer.partition(b"\r\n\r\n")[2].decode()


def test_the_anonymous_cannot_tell_an_owner_only_app_from_a_missing_one(hostile: Hostile) -> None:
    port = urlsplit(hostile.server.url).port
    labels = [
        "web--dev--alice",  # exists, owner-only
        "missing--dev--alice",
        "web--nope--alice",
        "web--dev--nobody",
        "8080--main--dev--alice",  # an unshared port of an agent that exists
        "8080--nope--dev--alice",
    ]
    answers = {label: _anonymous(hostile, f"{label}.apps.localhost:{port}") for label in labels}
    assert set(answers.values()) == {(303, "/api/v1/applications/auth-redirect")}, answers
    paths = ["/@alice/dev/apps/web-path/", "/@alice/dev/apps/missing/", "/@nobody/dev/apps/x/"]
    answers = {path: _anonymous(hostile, f"127.0.0.1:{port}", path) for path in paths}
    assert set(answers.values()) == {(303, "/login")}, answers


def test_an_app_that_never_answers_gets_a_504_not_an_open_connection(hostile: Hostile) -> None:
    app = ScriptedApp(lambda head: b"")  # takes the request, says nothing
    port = urlsplit(hostile.server.url).port
    assert port is not None
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=150) as connection:
            connection.sendall(hostile.to_port(app.port, "GET /slow"))
            answer = _read_response(connection)  # the router's deadline, well before ours
    finally:
        app.close()
    assert answer.startswith(b"HTTP/1.1 504 "), answer[:300]
    assert b"did not answer within 60 s" in answer


def test_a_body_that_trickles_in_is_cut_with_a_408(hostile: Hostile) -> None:
    app = ScriptedApp(lambda head: b"")
    port = urlsplit(hostile.server.url).port
    assert port is not None
    answer = b""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            connection.sendall(
                hostile.to_port(app.port, "POST /upload", "Content-Length: 100000\r\n")
            )
            connection.settimeout(2)
            for _ in range(150):  # a byte every 2 s: 300 s of trickle, unless cut first
                try:
                    connection.sendall(b"x")
                    piece = connection.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    break
                answer += piece
                if not piece or b"\r\n\r\n" in answer:
                    break
    finally:
        app.close()
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:300]


def _api_put(hostile: Hostile, framing: str, credentials: str = "") -> bytes:
    """The head of a PUT of alice's workspace with ``framing`` (a Content-Length or
    Transfer-Encoding line) and ``credentials`` (header lines), each line ending in CRLF."""
    authority = urlsplit(hostile.server.url).netloc
    return (
        f"PUT /api/v1/workspaces/alice/dev HTTP/1.1\r\nHost: {authority}\r\n"
        f"Content-Type: application/json\r\n{framing}{credentials}\r\n"
    ).encode()


def _connect(hostile: Hostile) -> socket.socket:
    port = urlsplit(hostile.server.url).port
    assert port is not None
    return socket.create_connection(("127.0.0.1", port), timeout=30)


@pytest.mark.parametrize(
    "credentials",
    ["", "Authorization: Bearer tpl_made-up\r\n", "Templater-Session-Token: x\r\n"],
    ids=["anonymous", "bad-bearer", "bad-session-token"],
)
@pytest.mark.parametrize(
    "framing",
    ["Content-Length: 1000000\r\n", "Transfer-Encoding: chunked\r\n"],
    ids=["length", "chunked"],
)
def test_an_api_body_is_not_read_from_a_caller_without_a_valid_token(
    hostile: Hostile, credentials: str, framing: str
) -> None:
    # Under the size limit, and not a byte of it sent: the 401 comes before the body would.
    with _connect(hostile) as connection:
        connection.sendall(_api_put(hostile, framing, credentials))
        answer = _read_response(connection)
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:300]
    assert b"WWW-Authenticate: Bearer" in answer and b'{"message": ' in answer


def test_a_connection_goes_on_after_a_body_was_refused_for_its_token(hostile: Hostile) -> None:
    # The body is all there before the token is found wanting (a token never seen before is
    # looked up in the registry, while the body arrives): the 401 must not leave the connection
    # waiting for more of it.
    authority = urlsplit(hostile.server.url).netloc
    bad = f"Authorization: Bearer tpl_{secrets.token_urlsafe(32)}\r\n"
    health = f"GET /api/v1/health HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode()
    with _connect(hostile) as connection:
        connection.sendall(_api_put(hostile, "Content-Length: 2\r\n", bad) + b"{}")
        first = _read_response(connection)
        connection.sendall(health)  # after the answer, as a client on a kept-alive connection
        second = _read_response(connection)
    assert first.startswith(b"HTTP/1.1 401 "), first[:300]
    assert second.startswith(b"HTTP/1.1 200 ") and b'"ok"' in second, second[:300]


def test_the_sign_in_forms_take_small_bodies_only(hostile: Hostile) -> None:
    authority = urlsplit(hostile.server.url).netloc
    for path in ("/login", "/logout"):
        with _connect(hostile) as connection:
            connection.sendall(
                f"POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 100000\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n\r\n".encode()
            )
            answer = _read_response(connection)  # not a byte of the 100 KB was sent
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:300]
        assert b"16 KiB" in answer


def test_an_api_body_over_the_limit_is_refused_before_it_is_read(hostile: Hostile) -> None:
    alice = f"Authorization: Bearer {hostile.alice}\r\n"
    with _connect(hostile) as connection:
        connection.sendall(_api_put(hostile, "Content-Length: 400000000\r\n", alice))
        answer = _read_response(connection)  # not a byte of the 400 MB was sent
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:300]
    assert b"16,384 KiB" in answer

    # Without a length, the body is counted as it comes and cut at the limit.
    piece = b"x" * 65536
    sent = 0
    answer = b""
    with _connect(hostile) as connection:
        connection.sendall(_api_put(hostile, "Transfer-Encoding: chunked\r\n", alice))
        try:
            while sent < 64 * 1024 * 1024:
                connection.sendall(b"%x\r\n%b\r\n" % (len(piece), piece))
                sent += len(piece)
        except OSError:  # the server closed the connection after answering
            pass
        with contextlib.suppress(OSError):
            answer = _read_response(connection)
    assert sent < 64 * 1024 * 1024  # the server stopped reading: no more was taken
    # The 413 is sent, but a client still writing may see the connection reset before it.
    assert answer == b"" or answer.startswith(b"HTTP/1.1 413 "), answer[:300]
    with httpx.Client(base_url=hostile.server.url, timeout=30) as client:
        assert client.get("/api/v1/health").status_code == 200


def test_max_body_sets_the_apis_limit(tmp_path: Path) -> None:
    for server in serving(tmp_path, "--max-body", "1K"):
        admin = {"Authorization": f"Bearer {server.admin_token}"}
        with httpx.Client(base_url=server.url, timeout=30) as client:
            small = client.put("/api/v1/workspaces/admin/w", headers=admin, content=b"{}" * 100)
            large = client.put("/api/v1/workspaces/admin/w", headers=admin, content=b" " * 2048)
        assert small.status_code == 422, small.text  # read, and found wanting
        assert large.status_code == 413 and "1 KiB" in large.text


def _refused(answer: httpx.Response, *said: str) -> None:
    """A 422 whose message says all of ``said``."""
    assert answer.status_code == 422, answer.text
    message = answer.json()["message"]
    assert all(part in message for part in said), message


def _checked(count: int, interval: int) -> list[dict[str, object]]:
    return [app_json(f"check-{n}", 9000 + n, (interval, 3)) for n in range(count)]


def test_one_member_cannot_load_the_control_plane_past_the_default_limits(
    tmp_path: Path,
) -> None:
    for server in serving(tmp_path):
        greedy = new_user(server, "greedy")
        many = [app_json(f"app-{n}", 10000 + n) for n in range(101)]
        _refused(
            put_workspace(server, greedy, "greedy", "big", many),
            "workspace greedy/big would have 101 apps; a workspace may have at most 100 (the "
            "server's --max-apps-per-workspace)",
        )
        with server.api(greedy) as client:
            assert client.get("/api/v1/workspaces/greedy/big").status_code == 404
            assert client.get("/api/v1/apps").json() == []
        assert put_workspace(server, greedy, "greedy", "big", many[:100]).status_code == 200

        # 25 checks a second from one agent: the 5,000 apps checked every second of issue 13,
        # scaled down.
        _refused(
            put_workspace(server, greedy, "greedy", "checked", _checked(25, 1)),
            "agent main of workspace greedy/checked would run 25 health checks a second",
            "an agent may run at most 20 (the server's --max-checks-per-second)",
        )
        with server.api(greedy) as client:
            assert client.get("/api/v1/workspaces/greedy/checked").status_code == 404
        assert put_workspace(server, greedy, "greedy", "checked", _checked(20, 1)).is_success

        for number in range(23):
            assert put_workspace(server, greedy, "greedy", f"w-{number}", []).is_success
        message = (
            "greedy already has 25 workspaces; a user may have at most 25 (the server's "
            "--max-workspaces-per-user)"
        )
        _refused(put_workspace(server, greedy, "greedy", "one-more", []), message)
        # An admin applying for the member counts against the member.
        _refused(put_workspace(server, server.admin_token, "greedy", "one-more", []), message)
        with server.api(greedy) as client:
            assert len(client.get("/api/v1/workspaces").json()) == 25
            assert client.get("/api/v1/workspaces/greedy/one-more").status_code == 404
        # Everyone else is untouched by greedy's limits.
        other = new_user(server, "modest")
        assert put_workspace(server, other, "modest", "dev", _checked(20, 1)).is_success


def test_the_limit_flags_raise_and_lower_the_limits(tmp_path: Path) -> None:
    flags = ("--max-apps-per-workspace", "150", "--max-workspaces-per-user", "2")
    for server in serving(tmp_path, *flags, "--max-checks-per-second", "1"):
        user = new_user(server, "carol")
        many = [app_json(f"app-{n}", 10000 + n) for n in range(151)]
        _refused(put_workspace(server, user, "carol", "big", many), "at most 150 (the server's")
        assert put_workspace(server, user, "carol", "big", many[:101]).is_success
        _refused(
            put_workspace(server, user, "carol", "checked", _checked(3, 2)),
            "would run 1.5 health checks a second",
            "at most 1 (the server's --max-checks-per-second)",
        )
        assert put_workspace(server, user, "carol", "checked", _checked(2, 2)).is_success
        _refused(put_workspace(server, user, "carol", "third", []), "at most 2 (the server's")


def _transitions(server: Server) -> int:
    """The changes of health the server has stored."""
    with contextlib.closing(sqlite3.connect(server.data_dir / "templater.db")) as database:
        return int(database.execute("SELECT count(*) FROM health_transitions").fetchone()[0])


def _report_a_thousand_changes(server: Server, user: str) -> float:
    """As flood/dev's agent, report 1,000 changes of app ``a`` as fast as they go; the seconds
    from the first until the server stored the last one."""
    from websockets.sync.client import connect

    from templater.model.agent_messages import CONTROL_PATH, Health, HealthChange, Hello, encode

    def last_one_stored() -> bool:
        with server.api(user) as client:
            answer = client.get("/api/v1/workspaces/flood/dev/apps/a/health")
        latest = answer.json()["transitions"][:1]
        return bool(latest and latest[0]["reason"] == "flood 999")

    token = issue_token(server, user, "flood", "dev", "main")
    url = server.url.replace("http://", "ws://") + CONTROL_PATH
    started = time.monotonic()
    with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as channel:
        channel.send(encode(Hello("1", "linux", "amd64", "flooder")))
        for number in range(1000):
            state = "unhealthy" if number % 2 else "healthy"
            change = HealthChange("a", state, f"flood {number}", datetime.now(UTC))
            channel.send(encode(Health((change,))))
        # However far behind the others it had to wait, the agent's last word is stored.
        assert eventually(last_one_stored)
        return time.monotonic() - started


def test_an_agent_flooding_health_reports_is_stored_at_its_checks_rate(tmp_path: Path) -> None:
    limits = ("--max-checks-per-second", "1", "--max-apps-per-workspace", "2")
    for server in serving(tmp_path, *limits):
        user = new_user(server, "flood")
        apply_apps(server, user, "flood", "dev", [app_json("a", 9000, (1, 3))])
        before = _transitions(server)
        elapsed = _report_a_thousand_changes(server, user)
        stored = _transitions(server) - before
        # Two at once (as many as a workspace's apps), then one a second: not one per report.
        assert 1 <= stored <= 2 + elapsed + 1, (stored, elapsed)


def test_a_cross_site_form_cannot_sign_a_browser_in_or_out(hostile: Hostile) -> None:
    bob = new_user(hostile.server, "mallory")
    evil = {"Origin": "http://evil.example"}
    with httpx.Client(base_url=hostile.server.url, timeout=30) as client:
        # Login CSRF: the attacker's own account, posted from their page, with or without a token.
        for headers, data in (
            (evil, {"username": "mallory", "token": bob}),
            ({}, {"username": "mallory", "token": bob}),  # no token: not templater's form
            (evil, {"username": "mallory", "token": bob, "csrf": "x" * 43}),
        ):
            answer = client.post("/login", data=data, headers=headers)
            assert answer.status_code == 403, answer.text
            assert "templater_session=" not in answer.headers.get("set-cookie", "")

        # Logout CSRF: alice is signed in; a cross-site post does not sign her out.
        assert sign_in(client, "alice", hostile.alice).status_code == 303
        session = client.cookies["templater_session"]
        home = client.get("/")
        csrf = re.findall(r'name="csrf" value="([^"]+)"', home.text)[0]
        forged = client.post("/logout", data={"csrf": csrf}, headers=evil)
        assert forged.status_code == 403
        tokenless = client.post("/logout", data={})
        assert tokenless.status_code == 403
        assert client.cookies["templater_session"] == session
        assert "Signed in as" in client.get("/").text

        # From templater's own page it works.
        out = client.post("/logout", data={"csrf": csrf})
        assert out.status_code == 303 and "templater_session=;" in out.headers["set-cookie"]


FLOOD = 20_000
"""Requests in each anonymous flood."""
LARGE = 60_000
"""Bytes of the made-up value in each of them."""
MEMORY_LIMIT = 64 * 1024 * 1024
"""How far one server process may grow under one flood (SPEC §15)."""


def _flood(port: int, requests: Callable[[int], bytes], connections: int = 4) -> set[bytes]:
    """``FLOOD`` requests, ``requests(i)`` for each i, spread over ``connections`` keep-alive
    connections; the status lines they got."""
    statuses: set[bytes] = set()

    def send(first: int) -> None:
        connection = socket.create_connection(("127.0.0.1", port), timeout=60)
        try:
            for number in range(first, FLOOD, connections):
                connection.sendall(requests(number))
                answer = _read_response(connection)
                if not answer:  # the router closed it: carry on, on another one
                    connection.close()
                    connection = socket.create_connection(("127.0.0.1", port), timeout=60)
                statuses.add(answer.split(b"\r\n", 1)[0])
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(first,)) for first in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def _unique(number: int, size: int = LARGE) -> str:
    return f"{number:08d}{'a' * size}"


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose front port is served by more than one process."""
    yield from serving(tmp_path_factory.mktemp("workers"), "--workers", "2")


@pytest.mark.parametrize(
    "flood",
    [
        pytest.param(
            lambda number, host: (
                f"GET / HTTP/1.1\r\nHost: web--dev--alice.{host}\r\n"
                f"{SESSION_HEADER}: tpl_{_unique(number)}\r\n\r\n"
            ),
            id="session-tokens",
        ),
        pytest.param(
            lambda number, host: f"GET / HTTP/1.1\r\nHost: {_unique(number)}.{host}\r\n\r\n",
            id="host-labels",
        ),
        pytest.param(
            lambda number, host: (
                f"GET /@{_unique(number, 8000)}/dev/apps/web/ HTTP/1.1\r\nHost: {host}\r\n\r\n"
            ),
            id="path-names",
        ),
    ],
)
def test_anonymous_floods_of_large_made_up_values_leave_memory_bounded(
    workers: Server, flood: Callable[[int, str], str]
) -> None:
    port = urlsplit(workers.url).port
    assert port is not None
    apps = f"apps.localhost:{port}"
    with memory_growth(workers.process.pid) as growth:
        statuses = _flood(port, lambda number: flood(number, apps).encode())
    assert statuses and all(status.startswith(b"HTTP/1.1 ") for status in statuses), statuses
    grown = growth()
    assert len(grown) > 1, "the server runs more than one process on the front port"
    # The figures, for `pytest -rP -k anonymous_floods`.
    print(
        ", ".join(f"pid {member} grew {amount / 2**20:.1f} MiB" for member, amount in grown.items())
    )
    for member, amount in grown.items():
        assert amount < MEMORY_LIMIT, f"process {member} grew by {amount / 2**20:.0f} MiB"
    with httpx.Client(base_url=workers.url, timeout=30) as client:
        assert client.get("/api/v1/health").status_code == 200
