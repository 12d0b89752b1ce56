"""The workspace agent, as real processes against a real server: apps reached through its
streams, its states, reconnecting, replacing, revoking, and nonsense on its channel."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from .agents import agent_record, issue_token, launch_agent, start_agent
from .conftest import ROOT, needs
from .test_server import (
    Server,
    app_json,
    eventually,
    new_user,
    serving,
    start_server,
)
from .upstreams import EchoApp

UNREACHABLE = "192.0.2.1"
"""An agent address nothing answers at (TEST-NET-1): only the agent's streams reach the app."""


def _apply(
    server: Server, token: str, owner: str, name: str, apps: list[dict[str, object]]
) -> None:
    with server.api(token) as client:
        current = client.get(f"/api/v1/workspaces/{owner}/{name}")
        version = current.json()["version"] if current.status_code == 200 else 0
        answer = client.put(
            f"/api/v1/workspaces/{owner}/{name}",
            json={
                "expected_version": version,
                "source": {},
                "variables": {},
                "agents": [{"name": "main", "address": UNREACHABLE}],
                "apps": apps,
            },
        )
    assert answer.status_code == 200, answer.text


def _get(server: Server, label: str, token: str, target: str = "/") -> httpx.Response:
    headers = {"Host": f"{label}.apps.localhost", "Templater-Session-Token": token}
    with httpx.Client(base_url=server.url, timeout=30) as client:
        return client.get(target, headers=headers)


@pytest.fixture
def echo() -> Iterator[EchoApp]:
    app = EchoApp()
    yield app
    app.close()


@pytest.fixture
def alice_world(tmp_path: Path, echo: EchoApp) -> Iterator[tuple[Server, str]]:
    for server in serving(tmp_path):
        alice = new_user(server, "alice")
        app = app_json("echo", echo.port)
        _apply(server, alice, "alice", "dev", [app])
        yield server, alice


def test_an_app_is_reached_through_its_agent_and_only_through_it(
    alice_world: tuple[Server, str],
) -> None:
    server, alice = alice_world
    # No agent yet, and the agent address leads nowhere: the app cannot be reached.
    assert _get(server, "echo--dev--alice", alice).status_code == 502
    agent = start_agent(server, alice, "alice", "dev")
    try:
        answer = _get(server, "echo--dev--alice", alice, "/hello?x=1")
        assert answer.status_code == 200, answer.text
        assert answer.json()["target"] == "/hello?x=1"
        record = agent_record(server, "alice", "dev", "main")
        assert record["state"] == "connected" and record["os"] == "linux"
        assert "connected to" in agent.log()
    finally:
        agent.stop()
    assert eventually(
        lambda: agent_record(server, "alice", "dev", "main")["state"] == "disconnected"
    )


def test_a_port_the_agent_cannot_dial_gets_a_502_naming_the_port(
    alice_world: tuple[Server, str],
) -> None:
    server, alice = alice_world
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    agent = start_agent(server, alice, "alice", "dev")
    try:
        answer = _get(server, f"{closed}--main--dev--alice", alice)
        assert answer.status_code == 502
        assert f"port {closed}" in answer.text and "refused" in answer.text
    finally:
        agent.stop()


def test_an_agent_killed_and_restarted_comes_back(alice_world: tuple[Server, str]) -> None:
    server, alice = alice_world
    token = issue_token(server, alice, "alice", "dev", "main")
    state = server.home / "agent-state"
    first = launch_agent(server, token, state)
    assert eventually(
        lambda: agent_record(server, "alice", "dev", "main")["state"] == "connected", 30
    )
    first.process.kill()
    first.process.wait()
    assert eventually(
        lambda: agent_record(server, "alice", "dev", "main")["state"] == "disconnected", 30
    )
    second = launch_agent(server, token, state)
    try:
        assert eventually(
            lambda: agent_record(server, "alice", "dev", "main")["state"] == "connected", 30
        ), second.log()
        assert _get(server, "echo--dev--alice", alice).status_code == 200
    finally:
        second.stop()


def test_a_second_agent_with_the_same_token_replaces_the_first(
    alice_world: tuple[Server, str],
) -> None:
    server, alice = alice_world
    token = issue_token(server, alice, "alice", "dev", "main")
    first = launch_agent(server, token, server.home / "one")
    assert eventually(
        lambda: agent_record(server, "alice", "dev", "main")["state"] == "connected", 30
    )
    second = launch_agent(server, token, server.home / "two")
    try:
        assert eventually(lambda: "replaced" in first.log() or "closed" in first.log(), 30), (
            first.log()
        )
        assert _get(server, "echo--dev--alice", alice).status_code == 200
        assert agent_record(server, "alice", "dev", "main")["state"] == "connected"
    finally:
        first.stop()
        second.stop()


def test_a_replaced_token_is_refused_and_its_agent_dropped(
    alice_world: tuple[Server, str],
) -> None:
    server, alice = alice_world
    agent = start_agent(server, alice, "alice", "dev")
    try:
        issue_token(server, alice, "alice", "dev", "main")  # ends the running agent's token
        assert eventually(lambda: "refused the agent token (HTTP 401)" in agent.log(), 30), (
            agent.log()
        )
        assert agent.process.poll() is None  # it keeps trying, with backoff, saying why
    finally:
        agent.stop()


def test_a_wrong_url_gets_one_clear_line_and_a_retry(
    alice_world: tuple[Server, str], tmp_path: Path
) -> None:
    server, _ = alice_world
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{probe.getsockname()[1]}"
    agent = launch_agent(server, "tpa_nonsense", tmp_path / "state", url=nowhere)
    said = f"cannot reach {nowhere}: connection refused; connecting again in"
    try:
        assert eventually(lambda: said in agent.log(), 30), agent.log()
        assert "Traceback" not in agent.log()
    finally:
        agent.stop()


def test_nonsense_on_the_control_channel_closes_it_and_never_crashes_the_agent(
    alice_world: tuple[Server, str],
) -> None:
    """A fake control plane that sends garbage: the agent says so and connects again."""
    server, _ = alice_world
    said: list[str] = []

    async def scenario() -> None:
        from websockets.asyncio.server import ServerConnection, serve

        connections = 0

        async def handler(connection: ServerConnection) -> None:
            nonlocal connections
            connections += 1
            await connection.recv()  # the hello
            await connection.send(json.dumps({"type": "open", "id": "x", "port": "http"}))
            await connection.wait_closed()

        async with serve(handler, "127.0.0.1", 0) as fake:
            port = fake.sockets[0].getsockname()[1]
            agent = launch_agent(
                server, "tpa_whatever", server.home / "state", url=f"http://127.0.0.1:{port}"
            )
            try:
                for _ in range(600):
                    if connections >= 2:
                        break
                    await asyncio.sleep(0.05)
                said.append(agent.log())
                assert agent.process.poll() is None
            finally:
                agent.stop()
        assert connections >= 2, said

    asyncio.run(scenario())
    assert "a message the agent cannot read" in said[0]
    assert "Traceback" not in said[0]


def test_listening_ports_appear_and_go_and_the_filtered_ones_never_show(
    alice_world: tuple[Server, str], echo: EchoApp
) -> None:
    server, alice = alice_world
    agent = start_agent(server, alice, "alice", "dev")

    def ports() -> set[int]:
        return {entry["port"] for entry in agent_record(server, "alice", "dev", "main")["ports"]}

    try:
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            opened = listener.getsockname()[1]
            assert eventually(lambda: opened in ports(), 30), agent.log()
            [entry] = [
                e
                for e in agent_record(server, "alice", "dev", "main")["ports"]
                if e["port"] == opened
            ]
            assert entry["process"]  # this test's own process, by name
            # The app's own port (its URL's) is an app, not a listening port to offer.
            assert echo.port not in ports()
        assert eventually(lambda: opened not in ports(), 30), agent.log()
    finally:
        agent.stop()


def test_the_agent_checks_its_apps_health(alice_world: tuple[Server, str], echo: EchoApp) -> None:
    server, alice = alice_world
    _apply(server, alice, "alice", "dev", [app_json("echo", echo.port, healthcheck=(1, 1))])
    agent = start_agent(server, alice, "alice", "dev")

    def health() -> object:
        with server.api(alice) as client:
            answer = client.get("/api/v1/workspaces/alice/dev/apps/echo/health")
        assert answer.status_code == 200, answer.text
        return answer.json()["health"]

    try:
        # Only the agent can reach the app (its address leads nowhere), so healthy is its word.
        assert eventually(lambda: health() == "healthy", 30), agent.log()
        assert "app echo is healthy (status 200)" in agent.log()
    finally:
        agent.stop()


@pytest.fixture
def socket_world(tmp_path: Path) -> Iterator[tuple[Server, str, Path]]:
    """A server that also listens on a Unix socket, and its user alice."""
    socket_path = tmp_path / "front.sock"
    for server in serving(tmp_path, "--listen-unix", str(socket_path)):
        yield server, new_user(server, "alice"), socket_path


def _can_make_network_namespaces() -> bool:
    if not (shutil.which("unshare") and shutil.which("ip")):
        return False
    tried = subprocess.run(
        ["unshare", "--net", "ip", "link", "set", "lo", "up"], capture_output=True, check=False
    )
    return tried.returncode == 0


@needs(_can_make_network_namespaces(), "cannot create a network namespace (unshare --net, ip)")
def test_the_control_plane_reaches_a_workspace_it_cannot_see(
    socket_world: tuple[Server, str, Path], tmp_path: Path
) -> None:
    """The app and its agent run in a network namespace of their own: a loopback the server
    cannot see. The agent reaches the server through a Unix socket the server also listens on,
    and through it the server reaches the app, its health and its listening ports."""
    server, alice, socket_path = socket_world
    with socket.socket() as probe:  # a port nothing on the server's side listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _apply(server, alice, "alice", "dev", [app_json("web", port, healthcheck=(1, 1))])
    token = issue_token(server, alice, "alice", "dev", "main")
    script = (
        "ip link set lo up && "
        f"{sys.executable} -m http.server {port} --bind 127.0.0.1 --directory {tmp_path} & "
        f"{sys.executable} -m http.server {port + 1 if port < 65535 else port - 1} "
        f"--bind 127.0.0.1 --directory {tmp_path} & "
        f"exec {sys.executable} -m templater agent --url http://templater.invalid "
        f"--unix-socket {socket_path} --state-dir {tmp_path / 'agent'}"
    )
    log = (tmp_path / "workspace.log").open("w")
    workspace = subprocess.Popen(
        ["unshare", "--net", "sh", "-c", script],
        env={**os.environ, "TEMPLATER_AGENT_TOKEN": token, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        stdout=log,
        stderr=log,
        start_new_session=True,  # the agent and its apps, stopped together
    )
    try:
        assert eventually(
            lambda: agent_record(server, "alice", "dev", "main")["state"] == "connected", 30
        ), (tmp_path / "workspace.log").read_text()
        # The server's own loopback has nothing at that port ...
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), 2):
            pass
        # ... yet the app answers through the agent,
        assert eventually(lambda: _get(server, "web--dev--alice", alice).status_code == 200, 30)
        # its health is known,
        with server.api(alice) as client:

            def health() -> object:
                return client.get("/api/v1/workspaces/alice/dev/apps/web/health").json()["health"]

            assert eventually(lambda: health() == "healthy", 30)
        # and the other port listening in the workspace is seen.
        other = port + 1 if port < 65535 else port - 1
        assert eventually(
            lambda: (
                other in {p["port"] for p in agent_record(server, "alice", "dev", "main")["ports"]}
            ),
            30,
        )
    finally:
        os.killpg(workspace.pid, signal.SIGKILL)
        workspace.wait(timeout=30)
        log.close()


def test_an_app_whose_url_leads_back_to_templater_is_a_508_not_a_storm(
    alice_world: tuple[Server, str],
) -> None:
    server, alice = alice_world
    port = urlsplit(server.url).port
    loop = app_json("loop", 0)
    loop["url"] = f"http://loop--dev--alice.apps.localhost:{port}/"
    loop["share"] = "public"
    _apply(server, alice, "alice", "dev", [loop])
    agent = start_agent(server, alice, "alice", "dev")
    try:
        answer = _get(server, "loop--dev--alice", alice)
        assert answer.status_code == 508, answer.text
        assert "Loop detected" in answer.text
        # One pass back through the router, refused: not thousands.
        passes = server.log().count("host=loop--dev--alice.apps.localhost")
        assert passes <= 2, server.log()
    finally:
        agent.stop()


def test_agents_come_back_by_themselves_when_the_server_restarts(
    tmp_path: Path, echo: EchoApp
) -> None:
    first = start_server(tmp_path / "data", tmp_path / "home")
    alice = new_user(first, "alice")
    _apply(first, alice, "alice", "dev", [app_json("echo", echo.port)])
    agent = start_agent(first, alice, "alice", "dev")
    try:
        first.process.terminate()
        first.process.wait(timeout=30)
        port = urlsplit(first.url).port
        assert port is not None
        second = start_server(tmp_path / "data", tmp_path / "home", port=port)
        try:
            assert eventually(
                lambda: agent_record(second, "alice", "dev", "main")["state"] == "connected", 60
            ), agent.log()
            assert _get(second, "echo--dev--alice", alice).status_code == 200
        finally:
            second.process.terminate()
            second.process.wait(timeout=30)
    finally:
        agent.stop()
