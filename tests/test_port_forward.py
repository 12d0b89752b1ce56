"""``templater port-forward`` (SPEC §9) on real processes: a server, alice's workspace agent, and
the command itself, forwarding to TCP servers on this machine (it stands in for the workspace);
and the bound on an agent's open streams that port-forward and SSH share (SPEC §15).

No test measures time: each waits for what it expects with a generous deadline."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from templater.model.forward_route import FORWARD_PROTOCOL, forward_target
from templater.model.ssh import SSH_PATH, SSH_PROTOCOL

from .agents import RunningAgent, launch_agent, start_agent
from .conftest import ROOT
from .test_server import (
    EVENT_DEADLINE,
    Server,
    eventually,
    free_port,
    new_user,
    new_workspace,
    serving,
    start_server,
)

GREETING = b"SSH-2.0-templater-test\r\n"


class TcpService:
    """A TCP server on loopback: it greets first when ``greeting`` is set, then echoes what it
    is sent, once the client has half-closed, and closes."""

    def __init__(self, greeting: bytes = b"") -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._socket.getsockname()[1])
        self._greeting = greeting
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            connection.sendall(self._greeting)
            received = b""
            while data := connection.recv(65536):
                received += data
            connection.sendall(received)

    def close(self) -> None:
        self._socket.close()


class UdpEcho:
    """A UDP server on loopback that sends every datagram back to its sender."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port = int(self._socket.getsockname()[1])
        threading.Thread(target=self._echo, daemon=True).start()

    def _echo(self) -> None:
        while True:
            try:
                datagram, sender = self._socket.recvfrom(65535)
                self._socket.sendto(datagram, sender)
            except OSError:
                return

    def close(self) -> None:
        self._socket.close()


@dataclass
class Forwarding:
    process: subprocess.Popen[str]
    out_path: Path
    err_path: Path

    def out(self) -> str:
        return self.out_path.read_text()

    def err(self) -> str:
        return self.err_path.read_text()


@contextmanager
def port_forward(server: Server, token: str, *args: str) -> Iterator[Forwarding]:
    """``templater port-forward ARGS`` running as the user of ``token``, until its listeners'
    lines are printed; stopped with SIGINT afterwards (and it must exit 0 then)."""
    files = [tempfile.mkstemp(prefix="forward-", dir=server.home) for _ in range(2)]
    for descriptor, _ in files:
        os.close(descriptor)
    out_path, err_path = (Path(name) for _, name in files)
    with out_path.open("w") as out, err_path.open("w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "templater", "port-forward", *args],
            cwd=ROOT,
            env=server.environment(token),
            stdout=out,
            stderr=err,
            text=True,
        )
    running = Forwarding(process, out_path, err_path)
    try:
        listening = eventually(lambda: "Forwarding" in running.out() or process.poll() is not None)
        assert listening and process.poll() is None, running.err()
        yield running
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0, running.err()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def exchange(port: int, data: bytes, host: str = "127.0.0.1") -> bytes:
    """What comes back on a connection to ``port`` that sends ``data`` and half-closes."""
    with socket.create_connection((host, port), timeout=EVENT_DEADLINE) as connection:
        connection.sendall(data)
        connection.shutdown(socket.SHUT_WR)
        return read_all(connection)


def read_all(connection: socket.socket) -> bytes:
    received = b""
    while data := connection.recv(65536):
        received += data
    return received


def closed_unanswered(port: int) -> bool:
    """Whether a connection to ``port`` is closed without an answer (a reset counts: the
    forward closes it with the bytes it was sent unread)."""
    try:
        return exchange(port, b"anyone?") == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except OSError as problem:  # closed before the half-close could be sent
        return problem.errno == errno.ENOTCONN


def works(port: int) -> bool:
    try:
        return exchange(port, b"ping") == b"ping"
    except OSError:
        return False


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A server; with the flags a test gives it (``parametrize("server", ..., indirect=True)``)."""
    yield from serving(tmp_path, *getattr(request, "param", ()))


@pytest.fixture
def alice(server: Server) -> Iterator[str]:
    """Alice's token; her workspace dev has agent main, connected."""
    token = new_user(server, "alice")
    new_workspace(server, token, "alice", "dev", "main")
    agent = start_agent(server, token, "alice", "dev")
    yield token
    agent.stop()


@pytest.fixture
def echo() -> Iterator[TcpService]:
    service = TcpService()
    yield service
    service.close()


def test_tcp_round_trip_with_half_close_and_greeting_kept(
    server: Server, alice: str, echo: TcpService
) -> None:
    greeter = TcpService(GREETING)
    one, two = free_port(), free_port()
    specs = ("--tcp", f"{one}:{echo.port}", "--tcp", f"127.0.0.1:{two}:{greeter.port}")
    with port_forward(server, alice, "dev", *specs) as forwarding:
        lines = forwarding.out().splitlines()
        assert f"Forwarding 127.0.0.1:{one} → dev.main:{echo.port} (tcp)" in lines
        assert f"Forwarding 127.0.0.1:{two} → dev.main:{greeter.port} (tcp)" in lines
        payload = os.urandom(3 * 1024 * 1024)
        assert exchange(one, payload) == payload  # all of it after the half-close
        if socket.has_ipv6 and any("[::1]" in line for line in lines):
            assert exchange(one, b"over IPv6", "::1") == b"over IPv6"
        # A server-first protocol: the greeting arrives before the client says anything.
        with socket.create_connection(("127.0.0.1", two), timeout=EVENT_DEADLINE) as greeted:
            received = b""
            while len(received) < len(GREETING):
                received += greeted.recv(1024)
            assert received == GREETING
            greeted.sendall(b"hello")
            greeted.shutdown(socket.SHUT_WR)
            assert read_all(greeted) == b"hello"
    greeter.close()


def test_a_refused_port_closes_its_connection_says_so_once_and_spares_the_others(
    server: Server, alice: str, echo: TcpService
) -> None:
    closed, good = free_port(), free_port()
    nothing = free_port()  # nothing listens there in the workspace
    specs = ("--tcp", f"{closed}:{nothing}", "--tcp", f"{good}:{echo.port}")
    with port_forward(server, alice, "dev", *specs) as forwarding:
        for _ in range(2):
            assert closed_unanswered(closed)
        assert works(good)
        assert eventually(lambda: str(nothing) in forwarding.err())
        mentions = [line for line in forwarding.err().splitlines() if str(nothing) in line]
        assert len(mentions) == 1, forwarding.err()
        assert "refused" in mentions[0]
        assert forwarding.process.poll() is None


def test_listeners_stay_up_while_the_agent_and_the_server_restart(
    tmp_path: Path, echo: TcpService
) -> None:
    first = start_server(tmp_path / "data", tmp_path / "home")
    port = urlsplit(first.url).port
    assert port is not None
    alice = new_user(first, "alice")
    new_workspace(first, alice, "alice", "dev", "main")
    agent = start_agent(first, alice, "alice", "dev")
    local = free_port()
    servers = [first]
    agents: list[RunningAgent] = [agent]
    try:
        with port_forward(first, alice, "dev", "--tcp", f"{local}:{echo.port}") as forwarding:
            assert works(local)
            # The agent stops: a connection made meanwhile waits, then closes; none breaks
            # the listener.
            agent.stop()
            assert closed_unanswered(local)
            assert eventually(lambda: "not connected" in forwarding.err()), forwarding.err()
            agents.append(launch_agent(first, agent.token, first.home / "agent-again"))
            assert eventually(lambda: works(local)), forwarding.err()
            # The server restarts; the agent comes back to it by itself, and so do streams.
            first.process.terminate()
            first.process.wait(timeout=30)
            servers.append(start_server(tmp_path / "data", tmp_path / "home", port=port))
            assert eventually(lambda: works(local)), forwarding.err()
            assert forwarding.process.poll() is None
    finally:
        for running in agents:
            running.stop()
        for each in servers:
            each.process.terminate()
            each.process.wait(timeout=30)


def test_udp_datagrams_go_both_ways_each_client_its_own(server: Server, alice: str) -> None:
    echo = UdpEcho()
    local = free_port()
    try:
        with port_forward(server, alice, "dev", "--udp", f"{local}:{echo.port}") as forwarding:
            assert f"Forwarding 127.0.0.1:{local} → dev.main:{echo.port} (udp)" in forwarding.out()
            clients = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
            for number, client in enumerate(clients):
                client.settimeout(EVENT_DEADLINE)
                # (Not an empty one: asyncio before Python 3.13 does not send those.)
                datagrams = [b"client %d" % number, os.urandom(1400), os.urandom(60000)]
                for datagram in datagrams:
                    client.sendto(datagram, ("127.0.0.1", local))
                    assert client.recvfrom(65535)[0] == datagram  # whole, and its own
                client.close()
    finally:
        echo.close()


class Upgrade:
    """One raw upgrade on the control plane: its status, and the API's message when refused;
    the connection stays open (a stream held) until ``close``."""

    def __init__(self, server: Server, token: str, path: str, protocol: str) -> None:
        parts = urlsplit(server.url)
        assert parts.port is not None
        self.connection = socket.create_connection(
            (parts.hostname, parts.port), timeout=EVENT_DEADLINE
        )
        self.connection.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n"
            f"Connection: Upgrade\r\nUpgrade: {protocol}\r\n\r\n".encode()
        )
        received = b""
        while b"\r\n\r\n" not in received:
            more = self.connection.recv(65536)
            assert more, f"closed before an answer: {received!r}"
            received += more
        head, _, body = received.partition(b"\r\n\r\n")
        self.status = int(head.split(b" ")[1])
        self.message = ""
        if self.status != 101:
            self.message = json.loads(body + read_all(self.connection))["message"]

    def close(self) -> None:
        self.connection.close()


def _upgrade_status(server: Server, token: str, path: str) -> int:
    """The status a raw forward upgrade for ``path`` gets."""
    upgrade = Upgrade(server, token, path, FORWARD_PROTOCOL)
    upgrade.close()
    return upgrade.status


def test_only_the_owner_and_admins_may_forward(
    server: Server, alice: str, echo: TcpService
) -> None:
    bob = new_user(server, "bob")
    path = f"/api/v1/workspaces/alice/dev/agents/main/forward/tcp/{echo.port}"
    assert _upgrade_status(server, bob, path) == 403
    assert _upgrade_status(server, "tpu_nonsense", path) == 401
    assert _upgrade_status(server, alice, path) == 101
    assert _upgrade_status(server, server.admin_token, path) == 101
    assert _upgrade_status(server, alice, path.replace("/main/", "/other/")) == 404

    refused = server.run(
        "port-forward", "dev", "--owner", "alice", "--tcp", str(free_port()), token=bob
    )
    assert refused.returncode == 1, refused.stderr
    assert "Traceback" not in refused.stderr
    local = free_port()
    with port_forward(
        server, server.admin_token, "dev.main", "--owner", "alice", "--tcp", f"{local}:{echo.port}"
    ):
        assert works(local)


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("8000-7000", "--tcp 8000-7000: the local range 8000-7000 ends before it starts"),
        ("8080-8081:9080-9082", "must be as long as each other"),
        ("localhost:8080", "host names are not accepted"),
        ("0", "local port 0"),
    ],
)
def test_a_bad_spec_is_a_usage_error_naming_it(server: Server, spec: str, says: str) -> None:
    result = server.run("port-forward", "dev", "--tcp", spec)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_a_port_it_cannot_bind_is_a_usage_error_naming_it(server: Server, alice: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = int(taken.getsockname()[1])
        result = server.run("port-forward", "dev", "--tcp", f"{port}:22", token=alice)
    assert result.returncode == 2, result.stderr
    assert f"cannot listen on 127.0.0.1:{port} (tcp)" in result.stderr
    assert "Traceback" not in result.stderr


def test_sigterm_stops_it_with_status_0(server: Server, alice: str, echo: TcpService) -> None:
    local = free_port()
    with port_forward(server, alice, "dev", "--tcp", f"{local}:{echo.port}") as forwarding:
        forwarding.process.terminate()
        assert forwarding.process.wait(timeout=30) == 0, forwarding.err()


# -- the bound on an agent's open streams (SPEC §15) ---------------------------------------------
# SSH connections and port-forward streams count alike against ``--max-streams-per-agent``; the
# one over it is refused with 429, naming the limit and the flag, while the open ones keep
# working, another member's agent is untouched, and a new one is let through once one closes.
# Two front-port processes: the count is the whole server's.

LIMIT = 3
FLAG = "--max-streams-per-agent"
LIMITED = (FLAG, str(LIMIT), "--workers", "2")


def forward_path(owner: str, port: int) -> str:
    return forward_target(owner, "dev", "main", "tcp", port)


def ssh_path(owner: str) -> str:
    return f"{SSH_PATH}{owner}/dev"


@pytest.mark.parametrize("server", [LIMITED], indirect=True)
def test_the_stream_over_the_limit_is_refused_until_one_closes(
    server: Server, alice: str, echo: TcpService
) -> None:
    forward = forward_path("alice", echo.port)
    held = [
        Upgrade(server, alice, forward, FORWARD_PROTOCOL),
        Upgrade(server, alice, forward, FORWARD_PROTOCOL),
        Upgrade(server, alice, ssh_path("alice"), SSH_PROTOCOL),
    ]
    assert [upgrade.status for upgrade in held] == [101] * LIMIT, [u.message for u in held]

    # One more, of either kind: refused, saying which limit and how to raise it.
    for path, protocol in ((forward, FORWARD_PROTOCOL), (ssh_path("alice"), SSH_PROTOCOL)):
        refused = Upgrade(server, alice, path, protocol)
        assert refused.status == 429, refused.message
        assert f"at most {LIMIT}" in refused.message
        assert f"the server's {FLAG}" in refused.message
        assert "alice/dev.main" in refused.message
        refused.close()

    # Another member's agent is not held back by alice's streams.
    bob = new_user(server, "bob")
    new_workspace(server, bob, "bob", "dev", "main")
    bobs_agent = start_agent(server, bob, "bob", "dev")
    bobs = Upgrade(server, bob, forward_path("bob", echo.port), FORWARD_PROTOCOL)
    assert bobs.status == 101, bobs.message
    bobs.close()
    bobs_agent.stop()

    # The open ones still carry bytes; the first ends when its echo is done...
    first = held.pop(0).connection
    first.sendall(b"still carried")
    first.shutdown(socket.SHUT_WR)
    assert read_all(first) == b"still carried"
    first.close()

    # ... and its place is free again: a new one is let through (once the end is counted).
    def let_through() -> bool:
        upgrade = Upgrade(server, alice, forward, FORWARD_PROTOCOL)
        if upgrade.status == 101:
            held.append(upgrade)
            return True
        assert upgrade.status == 429, upgrade.message
        upgrade.close()
        return False

    assert eventually(let_through)
    for upgrade in held:
        upgrade.close()


@pytest.mark.parametrize("server", [LIMITED], indirect=True)
def test_port_forward_says_the_limit_once_and_keeps_listening(
    server: Server, alice: str, echo: TcpService
) -> None:
    forward = forward_path("alice", echo.port)
    held = [Upgrade(server, alice, forward, FORWARD_PROTOCOL) for _ in range(LIMIT)]
    assert [upgrade.status for upgrade in held] == [101] * LIMIT
    local = free_port()
    with port_forward(server, alice, "dev", "--tcp", f"{local}:{echo.port}") as forwarding:
        for _ in range(2):
            assert closed_unanswered(local)
        assert eventually(lambda: FLAG in forwarding.err()), forwarding.err()
        mentions = [line for line in forwarding.err().splitlines() if FLAG in line]
        assert len(mentions) == 1, forwarding.err()
        assert "Traceback" not in forwarding.err()
        held.pop().close()
        assert eventually(lambda: works(local)), forwarding.err()
        assert forwarding.process.poll() is None
    for upgrade in held:
        upgrade.close()
