"""Workspace agents through the API and the CLI: agent tokens (owner or admin; others 403),
agents' states and since when, the agent state of each app, `templater agents token|list`, the
hook that tells the agent hub to check its connections again, and agent events on the event
stream. Real server processes on loopback ports (SQLite, and PostgreSQL when there is one); the
hub's side (an agent connecting) is played by a Store on the same database."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from templater.model.records import AgentEvent, HealthEvent, ListeningPort
from templater.server.api import Deployment, create_app
from templater.server.store import AGENT_TOKEN_PREFIX, Store, schema

from .conftest import BACKENDS, postgres_schema
from .test_ports import APPLY, WORKSPACE, Client
from .test_server import (
    EVENT_DEADLINE,
    Server,
    app_json,
    eventually,
    free_port,
    new_user,
    new_workspace,
    serving,
)

SERVER_ID = "test-hub:1"


@pytest.fixture(params=BACKENDS)
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Server, Store]]:
    """A server, and a Store on its database to play the agent hub with."""
    if request.param == "sqlite":
        for server in serving(tmp_path):
            store = Store(f"sqlite:///{server.data_dir / 'templater.db'}")
            yield server, store
            store.close()
        return
    with postgres_schema() as url:
        for server in serving(tmp_path, "--database", url):
            store = Store(url)
            yield server, store
            store.close()


def token_path(owner: str, workspace: str, agent: str) -> str:
    return f"/api/v1/workspaces/{owner}/{workspace}/agents/{agent}/token"


def with_agents(owner: str, apps: list[dict[str, Any]], *agents: tuple[str, int]) -> dict[str, Any]:
    """An apply of ``apps`` to a new workspace with these (name, connection_timeout) agents."""
    return {
        "expected_version": 0,
        "source": {},
        "variables": {},
        "agents": [{"name": name, "connection_timeout": timeout} for name, timeout in agents],
        "apps": apps,
    }


# ----------------------------------------------------------------------------- API


def test_agent_tokens_are_for_the_owner_and_admins(registry: tuple[Server, Store]) -> None:
    server, store = registry
    alice, bob = new_user(server, "alice"), new_user(server, "bob")
    new_workspace(server, alice, "alice", "dev", "main", "side")

    with server.api(alice) as api:
        issued = api.post(token_path("alice", "dev", "main"))
        assert issued.status_code == 201, issued.text
        token = issued.json()["token"]
        assert list(issued.json()) == ["token"] and token.startswith(AGENT_TOKEN_PREFIX)
        missing = api.post(token_path("alice", "dev", "nope"))
        assert missing.status_code == 404
        assert missing.json() == {"message": "workspace alice/dev has no agent nope"}
        missing = api.post(token_path("alice", "prod", "main"))
        assert (missing.status_code, missing.json()) == (
            404,
            {"message": "there is no workspace alice/prod"},
        )
    identity = store.agent_by_token(token)
    assert identity is not None and (identity.owner, identity.agent) == ("alice", "main")

    with server.api(bob) as api:
        refused = api.post(token_path("alice", "dev", "main"))
        assert refused.status_code == 403
        assert refused.json() == {"message": "bob can only see and change their own workspaces"}
        assert api.post(token_path("alice", "nope", "main")).status_code == 403  # nothing told
        assert api.get("/api/v1/workspaces/alice/dev/agents").status_code == 403
        assert api.get("/api/v1/agents", params={"owner": "alice"}).status_code == 403
        assert api.get("/api/v1/agents").json() == []
    assert store.agent_by_token(token) == identity  # bob changed nothing

    with server.api(server.admin_token) as api:
        again = api.post(token_path("alice", "dev", "main"))
        assert again.status_code == 201
    assert store.agent_by_token(token) is None  # the admin's new token ended alice's
    assert store.agent_by_token(again.json()["token"]) == identity

    with server.api(None) as anonymous:
        assert anonymous.post(token_path("alice", "dev", "main")).status_code == 401
    assert token not in server.log() and again.json()["token"] not in server.log()


def test_agents_and_apps_show_agents_states(registry: tuple[Server, Store]) -> None:
    server, store = registry
    alice, bob = new_user(server, "alice"), new_user(server, "bob")
    before = datetime.now(UTC) - timedelta(seconds=1)
    apps = [app_json("code-server", 13337)]
    with server.api(alice) as api:
        applied = api.put(
            "/api/v1/workspaces/alice/dev", json=with_agents("alice", apps, ("main", 120))
        )
        assert applied.status_code == 200, applied.text
        [agent] = api.get("/api/v1/workspaces/alice/dev/agents").json()
        assert agent == {
            "owner": "alice",
            "workspace": "dev",
            "name": "main",
            "state": "connecting",
            "state_changed_at": agent["state_changed_at"],
            "version": None,
            "os": None,
            "arch": None,
            "hostname": None,
            "ports": [],
            "ssh_host_key": None,
        }
        assert datetime.fromisoformat(agent["state_changed_at"]) >= before
        assert api.get("/api/v1/agents").json() == [agent]
        [app] = api.get("/api/v1/apps").json()
        assert (app["agent_state"], app["agent_state_changed_at"]) == (
            "connecting",
            agent["state_changed_at"],
        )
        missing = api.get("/api/v1/workspaces/alice/prod/agents")
        assert (missing.status_code, missing.json()) == (
            404,
            {"message": "there is no workspace alice/prod"},
        )
        token = api.post(token_path("alice", "dev", "main")).json()["token"]
    new_workspace(server, bob, "bob", "dev", "main")

    # the agent connects (as the hub records it), reports ports, and goes away
    identity = store.agent_by_token(token)
    assert identity is not None
    connected_at = datetime(2025, 6, 2, 9, 14, 3, tzinfo=UTC)
    store.agent_connected(
        identity.agent_id, SERVER_ID, "0.1.0", "linux", "amd64", "alice-dev", connected_at
    )
    store.set_agent_ports(identity.agent_id, [ListeningPort(8000, "python3")])
    with server.api(alice) as api:
        [agent] = api.get("/api/v1/workspaces/alice/dev/agents").json()
        assert (agent["state"], datetime.fromisoformat(agent["state_changed_at"])) == (
            "connected",
            connected_at,
        )
        assert (agent["version"], agent["os"], agent["arch"], agent["hostname"]) == (
            "0.1.0",
            "linux",
            "amd64",
            "alice-dev",
        )
        assert agent["ports"] == [{"port": 8000, "process": "python3"}]
        [app] = api.get("/api/v1/apps").json()
        assert app["agent_state"] == "connected"
        state = api.get("/api/v1/workspaces/alice/dev").json()
        assert state["apps"][0]["agent_state"] == "connected"
        assert state["agents"] == [{"name": "main", "connection_timeout": 120}]
    with server.api(server.admin_token) as api:
        everyone = api.get("/api/v1/agents").json()
        assert [(a["owner"], a["state"]) for a in everyone] == [
            ("alice", "connected"),
            ("bob", "connecting"),
        ]
        assert [a["owner"] for a in api.get("/api/v1/agents?owner=bob").json()] == ["bob"]
    with server.api(bob) as api:
        assert [a["owner"] for a in api.get("/api/v1/agents").json()] == ["bob"]
        assert [a["owner"] for a in api.get("/api/v1/apps").json()] == []


def test_an_agent_that_never_connects_times_out(registry: tuple[Server, Store]) -> None:
    server, store = registry
    alice = new_user(server, "alice")
    apps = [app_json("code-server", 13337)]
    with server.api(alice) as api:
        body = with_agents("alice", apps, ("main", 1))
        assert api.put("/api/v1/workspaces/alice/dev", json=body).status_code == 200
        [agent] = api.get("/api/v1/agents").json()
    # applied long ago (rather than waiting for its second to pass)
    past = datetime.fromisoformat(agent["state_changed_at"]) - timedelta(seconds=5)
    with store._engine.begin() as conn:
        conn.execute(sa.update(schema.agents).values(state_changed_at=past))
    with server.api(alice) as api:
        [agent] = api.get("/api/v1/agents").json()
        assert (agent["state"], datetime.fromisoformat(agent["state_changed_at"])) == (
            "timeout",
            past,
        )
        assert api.get("/api/v1/apps").json()[0]["agent_state"] == "timeout"
    listed = server.run("agents", "list", token=alice)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[1].split()[:3] == ["alice/dev", "main", "timeout"]


# ----------------------------------------------------------------------------- CLI


def test_agents_token_and_list_from_the_cli(registry: tuple[Server, Store]) -> None:
    server, store = registry
    alice = new_user(server, "alice")
    new_workspace(server, alice, "alice", "solo", "main")
    new_workspace(server, alice, "alice", "dev", "main", "side")

    issued = server.run("agents", "token", "solo", token=alice)
    assert issued.returncode == 0, issued.stderr
    lines = issued.stdout.splitlines()
    token = lines[-1]
    assert token.startswith(AGENT_TOKEN_PREFIX) and " " not in token
    assert "agent main of alice/solo" in lines[0] and "no longer works" in lines[0]
    identity = store.agent_by_token(token)
    assert identity is not None and (identity.workspace, identity.agent) == ("solo", "main")

    ambiguous = server.run("agents", "token", "dev", token=alice)
    assert ambiguous.returncode == 2 and ambiguous.stdout == ""
    assert "workspace alice/dev has agents main, side" in ambiguous.stderr
    side = server.run("agents", "token", "dev", "side", token=alice)
    assert side.returncode == 0, side.stderr
    side_identity = store.agent_by_token(side.stdout.splitlines()[-1])
    assert side_identity is not None and side_identity.agent == "side"

    again = server.run("agents", "token", "solo", "--owner", "alice")  # as the admin
    assert again.returncode == 0, again.stderr
    assert store.agent_by_token(token) is None
    assert store.agent_by_token(again.stdout.splitlines()[-1]) == identity

    missing = server.run("agents", "token", "dev", "nope", token=alice)
    assert missing.returncode == 1
    assert "workspace alice/dev has no agent nope" in missing.stderr
    bob = new_user(server, "bob")
    refused = server.run("agents", "token", "solo", "main", "--owner", "alice", token=bob)
    assert refused.returncode == 1 and "bob can only see and change" in refused.stderr

    store.agent_connected(
        side_identity.agent_id,
        SERVER_ID,
        "0.2.0",
        "linux",
        "arm64",
        "box",
        datetime(2025, 6, 2, 9, 14, 3, 250000, tzinfo=UTC),
    )
    listed = server.run("agents", "list", token=alice)
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()]
    assert rows[0] == ["workspace", "agent", "state", "since", "version", "os"]
    assert rows[1][:3] == ["alice/dev", "main", "connecting"] and rows[1][4:] == ["-", "-"]
    assert rows[2] == ["alice/dev", "side", "connected", "2025-06-02T09:14:03Z", "0.2.0", "linux"]
    assert rows[3][:3] == ["alice/solo", "main", "connecting"]
    assert len(rows) == 4

    only = server.run("agents", "list", "--workspace", "dev", "--json", token=alice)
    assert only.returncode == 0, only.stderr
    shown = json.loads(only.stdout)
    assert [agent["name"] for agent in shown] == ["main", "side"]
    assert shown[1] == {
        "owner": "alice",
        "workspace": "dev",
        "name": "side",
        "state": "connected",
        "state_changed_at": "2025-06-02T09:14:03.250000+00:00",
        "version": "0.2.0",
        "os": "linux",
        "arch": "arm64",
        "hostname": "box",
        "ports": [],
        "ssh_host_key": None,
    }
    assert server.run("agents", "list", token=bob).stdout.strip() == "No agents."
    mine = server.run("agents", "list", "--owner", "alice", "--json", token=bob)
    assert mine.returncode == 1 and "bob can only see" in mine.stderr


def test_apps_show_their_agents_state(registry: tuple[Server, Store]) -> None:
    server, store = registry
    alice = new_user(server, "alice")
    with server.api(alice) as api:
        body = with_agents("alice", [app_json("code-server", 13337)], ("main", 120))
        assert api.put("/api/v1/workspaces/alice/dev", json=body).status_code == 200
    listed = server.run("apps", token=alice)
    assert listed.returncode == 0, listed.stderr
    header, row = (line.split() for line in listed.stdout.splitlines())
    assert header == ["workspace", "agent", "state", "slug", "share", "URL", "health"]
    assert row[:4] == ["alice/dev", "main", "connecting", "code-server"]

    token = server.run("agents", "token", "dev", token=alice).stdout.splitlines()[-1]
    identity = store.agent_by_token(token)
    assert identity is not None
    at = datetime(2025, 6, 2, 9, 14, 3, tzinfo=UTC)
    store.agent_connected(identity.agent_id, SERVER_ID, "1", "linux", "amd64", "box", at)
    store.agent_disconnected(identity.agent_id, SERVER_ID, at + timedelta(minutes=1))
    [app] = json.loads(server.run("apps", "--json", token=alice).stdout)
    assert (app["agent_state"], app["agent_state_changed_at"]) == (
        "disconnected",
        "2025-06-02T09:15:03+00:00",
    )
    assert server.run("apps", token=alice).stdout.splitlines()[1].split()[2] == "disconnected"


# ----------------------------------------------------------------------------- the hub's hook


@pytest.fixture
def agent_changes(tmp_path: Path) -> Iterator[tuple[Client, list[str]]]:
    """A client of the API signed in as alice, and the calls of on_agents_changed so far."""
    store = Store(f"sqlite:///{tmp_path / 'templater.db'}")
    store.migrate()
    _, token = store.create_user("alice", "member")
    store.create_user("bob", "member")
    calls: list[str] = []
    app = create_app(
        store,
        Deployment("http://127.0.0.1:7080"),
        on_agents_changed=lambda: calls.append("changed"),
    )
    yield Client(app, token), calls
    store.close()


def test_applies_destroys_and_new_tokens_tell_the_hub(
    agent_changes: tuple[Client, list[str]],
) -> None:
    client, calls = agent_changes
    assert client.put(WORKSPACE, json=APPLY).status_code == 200
    assert len(calls) == 1
    assert client.request("POST", f"{WORKSPACE}/agents/main/token").status_code == 201
    assert len(calls) == 2
    assert client.put(WORKSPACE, json={**APPLY, "expected_version": 1, "agents": []}).is_success
    assert len(calls) == 3
    assert client.delete(WORKSPACE).status_code == 200
    assert len(calls) == 4

    # nothing refused tells it anything, and neither does sharing a port or reading
    assert client.put(WORKSPACE, json=APPLY).status_code == 200
    calls.clear()
    assert client.put(WORKSPACE, json=APPLY).status_code == 409
    assert client.request("POST", f"{WORKSPACE}/agents/nope/token").status_code == 404
    assert client.request("POST", "/api/v1/workspaces/bob/dev/agents/main/token").status_code == 403
    assert client.delete("/api/v1/workspaces/alice/nope").status_code == 404
    assert client.put(f"{WORKSPACE}/ports/main/8080", json={"share": "public"}).status_code == 200
    assert client.get(f"{WORKSPACE}/agents").status_code == 200
    assert calls == []


# ----------------------------------------------------------------------------- events


class _Running:
    """The API (create_app) served by uvicorn in a thread of this process, so that a test can
    publish on its event broker as the agent hub does."""

    def __init__(self, tmp_path: Path) -> None:
        import uvicorn

        self.store = Store(f"sqlite:///{tmp_path / 'templater.db'}")
        self.store.migrate()
        self.tokens = {
            name: self.store.create_user(name, role)[1]
            for name, role in (("alice", "member"), ("bob", "member"), ("root", "admin"))
        }
        self.app = create_app(self.store, Deployment("http://127.0.0.1"))
        self.url = f"http://127.0.0.1:{free_port()}"
        port = int(self.url.rsplit(":", 1)[1])
        config = uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert eventually(lambda: self.server.started), "uvicorn did not start"

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self.server.serve())

    def publish(self, *events: AgentEvent | HealthEvent) -> None:
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self.app.state.events.publish, list(events))

    def close(self) -> None:
        self.app.state.events.close()
        self.server.should_exit = True
        self.thread.join(timeout=EVENT_DEADLINE)
        self.store.close()


def test_the_event_stream_carries_agent_events(tmp_path: Path) -> None:
    running = _Running(tmp_path)
    received: dict[str, list[tuple[str, dict[str, Any]]]] = {name: [] for name in running.tokens}
    subscribed = {name: threading.Event() for name in running.tokens}

    def listen(name: str) -> None:
        headers = {"Authorization": f"Bearer {running.tokens[name]}"}
        with (
            httpx.Client(base_url=running.url, headers=headers) as http,
            http.stream("GET", "/api/v1/events", timeout=EVENT_DEADLINE) as response,
        ):
            kind = None
            for line in response.iter_lines():
                if line == ": connected":
                    subscribed[name].set()
                elif line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:"):
                    assert kind is not None
                    received[name].append((kind, json.loads(line[5:])))
                    if received[name][-1][1].get("workspace") == "last":
                        return

    listeners = [threading.Thread(target=listen, args=(name,)) for name in running.tokens]
    try:
        for listener in listeners:
            listener.start()
        for name in running.tokens:
            assert subscribed[name].wait(EVENT_DEADLINE), name
        at = datetime(2025, 6, 2, 9, 14, 3, tzinfo=UTC)
        running.publish(
            AgentEvent("alice", "dev", "main", "connected", at),
            HealthEvent("alice", "dev", "code-server", "healthy", "status 200", at),
            AgentEvent("bob", "dev", "main", "disconnected", at),
            AgentEvent("alice", "last", "main", "connected", at),
            AgentEvent("bob", "last", "main", "connected", at),
        )
        for listener in listeners:
            listener.join(EVENT_DEADLINE)
            assert not listener.is_alive()
    finally:
        running.close()
    mine = [
        (
            "agent",
            {
                "owner": "alice",
                "workspace": "dev",
                "agent": "main",
                "state": "connected",
                "at": "2025-06-02T09:14:03+00:00",
            },
        ),
        (
            "health",
            {
                "owner": "alice",
                "workspace": "dev",
                "slug": "code-server",
                "health": "healthy",
                "reason": "status 200",
                "at": "2025-06-02T09:14:03+00:00",
            },
        ),
    ]
    assert received["alice"][:2] == mine and len(received["alice"]) == 3
    assert [(kind, event["owner"], event["workspace"]) for kind, event in received["bob"]] == [
        ("agent", "bob", "dev"),
        ("agent", "bob", "last"),
    ]
    assert received["bob"][0][1]["state"] == "disconnected"
    # the admin sees everyone's, and stops at the first "last"
    assert [(kind, event["owner"]) for kind, event in received["root"]] == [
        ("agent", "alice"),
        ("health", "alice"),
        ("agent", "bob"),
        ("agent", "alice"),
    ]
