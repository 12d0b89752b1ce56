"""Health checks end to end: real apps on loopback ports checked by their workspace's agent,
the changes stored by the real server with their reasons, streamed to clients as they happen,
and kept across a restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from .agents import agents_running
from .conftest import ctrl_c_reaches_it
from .test_server import Server, app_json, eventually, new_user, start_server


class _App(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(type(self).status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve_app(status: int) -> ThreadingHTTPServer:
    """A workspace app on a loopback port answering every request with ``status``."""
    handler = type(f"App{status}", (_App,), {"status": status})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


@pytest.fixture
def apps() -> Iterator[dict[str, ThreadingHTTPServer]]:
    running = {"good": serve_app(200), "bad": serve_app(500)}
    yield running
    for httpd in running.values():
        httpd.shutdown()


def apply(
    server: Server,
    token: str,
    owner: str,
    workspace: str,
    apps: list[dict[str, object]],
    version: int = 0,
) -> None:
    body = {
        "expected_version": version,
        "source": {},
        "variables": {},
        "agents": [{"name": "main"}],
        "apps": apps,
    }
    with server.api(token) as api:
        response = api.put(f"/api/v1/workspaces/{owner}/{workspace}", json=body)
        assert response.status_code == 200, response.text


def wait_for_health(
    server: Server, token: str, path: str, health: str, seconds: float = 10
) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    with server.api(token) as api:
        while time.monotonic() < deadline:
            state: dict[str, Any] = api.get(path).json()
            if state["health"] == health:
                return state
            time.sleep(0.1)
    raise AssertionError(f"{path} never became {health}: {state}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = start_server(tmp_path / "data", tmp_path / "home")
    yield running
    running.process.terminate()
    running.process.wait(timeout=30)


def test_health_changes_are_checked_stored_with_reasons_and_streamed(
    server: Server, apps: dict[str, ThreadingHTTPServer]
) -> None:
    alice = new_user(server, "alice")
    bob = new_user(server, "bob")
    received: dict[str, list[tuple[dict[str, Any], float]]] = {"alice": [], "bob": []}

    def listen(name: str, token: str) -> None:
        with (
            httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as http,
            http.stream("GET", "/api/v1/events", timeout=30) as response,
        ):
            kind = ""
            for line in response.iter_lines():
                if line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:") and kind == "health":  # not the agent's states
                    received[name].append((json.loads(line[5:]), time.time()))
                    if len(received[name]) >= 2:
                        return

    listeners = [
        threading.Thread(target=listen, args=(name, token), daemon=True)
        for name, token in (("alice", alice), ("bob", bob))
    ]
    for listener in listeners:
        listener.start()
    time.sleep(0.5)
    started = time.monotonic()
    apply(
        server,
        alice,
        "alice",
        "dev",
        [
            app_json("good", apps["good"].server_address[1], (1, 1)),
            app_json("bad", apps["bad"].server_address[1], (1, 1)),
        ],
    )
    with agents_running(server, (alice, "alice", "dev")):
        good = wait_for_health(
            server, alice, "/api/v1/workspaces/alice/dev/apps/good/health", "healthy"
        )
        bad = wait_for_health(
            server, alice, "/api/v1/workspaces/alice/dev/apps/bad/health", "unhealthy"
        )
    # The first check comes one interval (1 s) after the app is provisioned, not at once.
    assert time.monotonic() - started >= 0.9
    assert [(t["health"], t["reason"]) for t in good["transitions"]] == [("healthy", "status 200")]
    assert [(t["health"], t["reason"]) for t in bad["transitions"]] == [("unhealthy", "status 500")]

    listeners[0].join(timeout=10)
    events = received["alice"]
    assert {(event["slug"], event["health"]) for event, _ in events} == {
        ("good", "healthy"),
        ("bad", "unhealthy"),
    }
    for event, arrived in events:
        assert arrived - datetime.fromisoformat(event["at"]).timestamp() < 1.0
    assert received["bob"] == []  # bob sees nothing of alice's workspaces


def test_last_known_health_survives_a_restart(
    tmp_path: Path, apps: dict[str, ThreadingHTTPServer]
) -> None:
    running = start_server(tmp_path / "data", tmp_path / "home")
    token = new_user(running, "carol")
    apply(
        running,
        token,
        "carol",
        "dev",
        [app_json("good", apps["good"].server_address[1], (5, 1))],
    )
    path = "/api/v1/workspaces/carol/dev/apps/good/health"
    with agents_running(running, (token, "carol", "dev")):
        wait_for_health(running, token, path, "healthy", seconds=15)
    running.process.terminate()
    running.process.wait(timeout=30)
    restarted = start_server(tmp_path / "data", tmp_path / "home")
    try:
        with restarted.api(token) as api:
            assert api.get(path).json()["health"] == "healthy"
    finally:
        restarted.process.terminate()
        restarted.process.wait(timeout=30)


def test_destroyed_apps_leave_the_schedule(
    server: Server, apps: dict[str, ThreadingHTTPServer]
) -> None:
    token = new_user(server, "dave")
    apply(server, token, "dave", "dev", [app_json("bad", apps["bad"].server_address[1], (1, 1))])
    path = "/api/v1/workspaces/dave/dev/apps/bad/health"
    with agents_running(server, (token, "dave", "dev")) as [agent]:
        wait_for_health(server, token, path, "unhealthy")
        with server.api(token) as api:
            assert api.delete("/api/v1/workspaces/dave/dev").status_code == 200
        # A destroyed workspace's agent is dropped, and its token refused from then on.
        assert eventually(lambda: "refused the agent token" in agent.log(), 30), agent.log()
        apply(
            server, token, "dave", "dev", [app_json("bad", apps["good"].server_address[1], (1, 1))]
        )
    # The same slug re-created on a healthy port: a new app, whose first check says healthy.
    with agents_running(server, (token, "dave", "dev")):
        state = wait_for_health(server, token, path, "healthy")
    assert [t["health"] for t in state["transitions"]] == ["healthy"]


def test_apps_watch_follows_health_changes(
    server: Server, apps: dict[str, ThreadingHTTPServer]
) -> None:
    token = new_user(server, "erin")
    environment = {
        **os.environ,
        "TEMPLATER_URL": server.url,
        "TEMPLATER_TOKEN": token,
        "XDG_CONFIG_HOME": str(server.home / "config"),
    }
    apply(server, token, "erin", "dev", [app_json("good", apps["good"].server_address[1], (1, 1))])
    watch = subprocess.Popen(
        [sys.executable, "-m", "templater", "apps", "--watch"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ctrl_c_reaches_it,
    )
    stdout = watch.stdout
    assert stdout is not None
    shown: list[str] = []
    reader = threading.Thread(target=lambda: shown.extend(iter(stdout.readline, "")))
    reader.start()
    try:
        with agents_running(server, (token, "erin", "dev")):
            wait_for_health(
                server, token, "/api/v1/workspaces/erin/dev/apps/good/health", "healthy"
            )
        # The watcher redraws once the event reaches it: wait for that, however busy the machine.
        deadline = time.monotonic() + 60
        while "healthy" not in "".join(shown).rsplit("workspace", 1)[-1]:
            if time.monotonic() > deadline or watch.poll() is not None:
                break
            time.sleep(0.1)
    finally:
        watch.send_signal(signal.SIGINT)
        watch.wait(timeout=30)
        reader.join(timeout=30)
    assert watch.stderr is not None
    errors = watch.stderr.read()
    output = "".join(shown)
    assert watch.returncode == 0, errors
    # The table it shows last is the one after the change.
    last = output.rsplit("workspace", 1)[-1]
    assert "erin/dev" in last and "healthy" in last and "initializing" not in last
