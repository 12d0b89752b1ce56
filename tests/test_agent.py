"""The workspace agent, as real processes against a real server: apps reached through its
streams, its states, reconnecting, replacing, revoking, and nonsense on its channel."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
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
                "agents": [{"name": "main"}],
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
    # No agent yet: the app cannot be reached, and the page says why.
    waiting = _get(server, "echo--dev--alice", alice)
    assert waiting.status_code == 502
    assert "agent alice/dev.main has not connected since the workspace was applied" in (
        waiting.text
    )
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
    since = datetime.fromisoformat(agent_record(server, "alice", "dev", "main")["state_changed_at"])
    gone = _get(server, "echo--dev--alice", alice)
    assert gone.status_code == 502
    assert (
        f"agent alice/dev.main has not been connected since "
        f"{since.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" in gone.text
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
        # Only the agent checks apps: healthy is its word.
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


class _Sentinel:
    """A TCP port on the server's own machine that counts every connection made to it: a
    service there that no workspace should be able to make the server reach."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._socket.getsockname()[1])
        self.connections = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                accepted, _ = self._socket.accept()
            except OSError:
                return
            self.connections += 1
            accepted.close()

    def close(self) -> None:
        self._socket.close()


def test_a_member_cannot_make_the_server_connect_anywhere(tmp_path: Path) -> None:
    """Whatever a member applies or asks for, the server connects to nothing but the agents
    that dial it: an app URL, a healthcheck and a port URL aimed at a service on the server's
    own machine, an old client's agent address, another user's agent's port."""
    sentinel = _Sentinel()
    try:
        for server in serving(tmp_path):
            mallory, bob = new_user(server, "mallory"), new_user(server, "bob")
            aimed = app_json("db", sentinel.port, healthcheck=(1, 1))
            aimed["share"] = "public"
            with server.api(mallory) as client:
                answer = client.put(
                    "/api/v1/workspaces/mallory/dev",
                    json={
                        "expected_version": 0,
                        "source": {},
                        "variables": {},
                        "agents": [{"name": "main", "address": "127.0.0.1"}],
                        "apps": [aimed],
                    },
                )
            assert answer.status_code == 200, answer.text
            _apply(server, bob, "bob", "lab", [app_json("notes", sentinel.port)])
            bobs_agent = start_agent(server, bob, "bob", "lab")
            try:
                asked = [
                    _get(server, "db--dev--mallory", mallory),
                    _get(server, f"{sentinel.port}--main--dev--mallory", mallory),
                    _get(server, f"{sentinel.port}s--main--dev--mallory", mallory),
                    _get(server, f"{sentinel.port}--main--lab--bob", mallory),
                    _get(server, "notes--lab--bob", mallory),
                ]
                assert [answer.status_code for answer in asked] == [502, 502, 502, 404, 404]
                # A few healthcheck intervals: nobody checks an app whose agent is away.
                assert not eventually(lambda: sentinel.connections > 0, 3)
                with server.api(mallory) as client:
                    health = client.get("/api/v1/workspaces/mallory/dev/apps/db/health")
                assert health.json()["health"] == "initializing"
            finally:
                bobs_agent.stop()
    finally:
        sentinel.close()
    assert sentinel.connections == 0


class _Silent:
    """An app that accepts connections and never answers, until closed."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port = int(self._socket.getsockname()[1])
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def accepted(self) -> int:
        with self._lock:
            return len(self._held)

    def _accept(self) -> None:
        while True:
            try:
                accepted = self._socket.accept()[0]
            except OSError:
                return
            with self._lock:
                if self._closed:
                    accepted.close()
                else:
                    self._held.append(accepted)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._socket.close()
            for held in self._held:
                held.close()
            self._held.clear()


def test_one_agents_dead_app_and_a_frozen_agent_do_not_hold_up_another(
    tmp_path: Path, echo: EchoApp
) -> None:
    silent = _Silent()
    try:
        for server in serving(tmp_path):
            users = {name: new_user(server, name) for name in ("alice", "bob", "carol")}
            _apply(server, users["alice"], "alice", "dev", [app_json("stuck", silent.port)])
            _apply(server, users["carol"], "carol", "dev", [app_json("frozen", echo.port)])
            _apply(server, users["bob"], "bob", "dev", [app_json("echo", echo.port)])
            agents = [start_agent(server, users[name], name, "dev") for name in users]
            agents[2].process.send_signal(signal.SIGSTOP)  # carol's agent: alive, not answering
            try:
                with ThreadPoolExecutor(40) as pool:
                    held = [
                        pool.submit(_get, server, label, users[owner])
                        for owner, label in [("alice", "stuck--dev--alice")] * 20
                        + [("carol", "frozen--dev--carol")] * 20
                    ]
                    # Alice's requests reached her app through her agent, and wait there.
                    assert eventually(lambda: silent.accepted >= 20, 30)
                    answers = [_get(server, "echo--dev--bob", users["bob"]) for _ in range(20)]
                    assert [answer.status_code for answer in answers] == [200] * 20
                    # Bob was served while every request to the others was still waiting.
                    assert not any(future.done() for future in held)
                    silent.close()
                    agents[2].process.send_signal(signal.SIGCONT)
                    statuses = {future.result().status_code for future in held}
                assert statuses <= {200, 502}
            finally:
                agents[2].process.send_signal(signal.SIGCONT)
                for agent in agents:
                    agent.stop()
    finally:
        silent.close()


def test_a_killed_servers_agents_read_disconnected_and_a_replicas_agent_is_named(
    tmp_path: Path, echo: EchoApp
) -> None:
    first = start_server(tmp_path / "data", tmp_path / "home", "--workers", "1")
    alice = new_user(first, "alice")
    _apply(first, alice, "alice", "dev", [app_json("echo", echo.port)])
    agent = start_agent(first, alice, "alice", "dev")
    # The server dies without a word, then its agent: nobody told the registry.
    first.process.kill()
    first.process.wait(timeout=30)
    agent.process.kill()
    agent.process.wait(timeout=30)
    port = urlsplit(first.url).port
    for second in serving(tmp_path, "--workers", "1", port=port):
        assert agent_record(second, "alice", "dev", "main")["state"] == "disconnected"
        assert "agents it held are disconnected" in second.log()
        # The registry says another server (a replica) holds the agent's channel.
        with sqlite3.connect(second.data_dir / "templater.db") as database:
            database.execute("UPDATE agents SET state = 'connected', server = 'replica-b:7'")
        answer = _get(second, "echo--dev--alice", alice)
        assert answer.status_code == 502
        assert "connected to another templater server (replica-b:7)" in answer.text
