"""The bound on one agent's open streams (SPEC §15): SSH connections and port-forward streams
count alike against ``--max-streams-per-agent``; the one over it is refused with 429, naming
the limit and the flag, while the open ones keep working, another member's agent is untouched,
and a new one is let through once one closes. On real processes, with two front-port processes
(the count is the whole server's); no test measures time."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from templater.model.forward_route import FORWARD_PROTOCOL, forward_target
from templater.model.ssh import SSH_PATH, SSH_PROTOCOL
from templater.server.open_streams import OpenStreams

from .agents import start_agent
from .test_port_forward import TcpService, closed_unanswered, port_forward, read_all, works
from .test_server import (
    EVENT_DEADLINE,
    Server,
    eventually,
    free_port,
    new_user,
    new_workspace,
    serving,
)

LIMIT = 3
FLAG = "--max-streams-per-agent"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    yield from serving(tmp_path, FLAG, str(LIMIT), "--workers", "2")


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


def test_open_streams_are_counted_per_agent_and_given_back() -> None:
    streams = OpenStreams(2)
    assert streams.take(1, "0.a") and streams.take(1, "1.b")
    assert not streams.take(1, "0.c")  # agent 1 is full...
    assert streams.take(2, "0.d")  # ... and agent 2 is not held back by it
    streams.give_back("0.c")  # never counted: nothing changes
    assert not streams.take(1, "0.e")
    streams.give_back("0.a")
    streams.give_back("0.a")  # both ends of a stream may say so
    assert streams.take(1, "0.f")
    assert not streams.take(1, "0.g")
    streams.give_back_process("1")  # process 1's link ended: "1.b" is given back, not "0.f"
    assert streams.take(1, "0.h")
    assert not streams.take(1, "0.i")


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


def forward_path(owner: str, port: int) -> str:
    return forward_target(owner, "dev", "main", "tcp", port)


def ssh_path(owner: str) -> str:
    return f"{SSH_PATH}{owner}/dev"


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
