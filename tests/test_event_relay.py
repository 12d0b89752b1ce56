"""Events between the servers of one PostgreSQL registry: an agent connected to one server is
followed through another (its event stream, and so the dashboard's live updates), and two
registries in one database keep their events apart."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from templater.model.records import AgentEvent, HealthEvent, ListeningPort, PortsEvent
from templater.server.events import Event, event_from_json, event_json, event_kind

from .agents import agents_running
from .conftest import POSTGRES_URL, needs, postgres_schema
from .test_server import (
    EVENT_DEADLINE,
    Server,
    app_json,
    apply_apps,
    eventually,
    new_user,
    serving,
)

AT = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "event",
    [
        AgentEvent("alice", "dev", "main", "connected", AT),
        HealthEvent("alice", "dev", "code", "unhealthy", "status 503", AT),
        PortsEvent("alice", "dev", "main", (ListeningPort(8080, "node"), ListeningPort(22, ""))),
        PortsEvent("alice", "dev", "main", ()),
    ],
)
def test_an_event_reads_back_as_it_was_sent(event: Event) -> None:
    assert event_from_json(event_kind(event), event_json(event)) == event


def test_an_event_of_another_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown event kind 'weather'"):
        event_from_json("weather", {"at": AT.isoformat()})


def _events(server: Server, token: str, heard: list[str], subscribed: threading.Event) -> None:
    """Collect the ``event:`` lines of ``server``'s stream until it ends."""
    headers = {"Authorization": f"Bearer {token}"}
    with (
        httpx.Client(base_url=server.url, headers=headers) as http,
        http.stream("GET", "/api/v1/events", timeout=EVENT_DEADLINE) as response,
    ):
        for line in response.iter_lines():
            if line == ": connected":
                subscribed.set()
            elif line.startswith("event:") or line.startswith("data:"):
                heard.append(line)


def _follow(server: Server, token: str) -> list[str]:
    """The stream's lines as they come (a thread collects them until the server stops)."""
    heard: list[str] = []
    subscribed = threading.Event()
    thread = threading.Thread(target=_events, args=(server, token, heard, subscribed), daemon=True)
    thread.start()
    assert subscribed.wait(EVENT_DEADLINE)
    return heard


@pytest.fixture
def two_registries(tmp_path: Path) -> Iterator[tuple[Server, Server, Server]]:
    """Servers A and B on one registry, and C on another schema of the same database."""
    with postgres_schema() as shared, postgres_schema() as other, ExitStack() as stack:

        def start(name: str, url: str) -> Server:
            return stack.enter_context(contextmanager(serving)(tmp_path / name, "--database", url))

        a = start("a", shared)
        # B joins A's registry: its admin is A's (only a registry's first server makes one).
        (tmp_path / "b" / "data").mkdir(parents=True, mode=0o700)
        token = tmp_path / "b" / "data" / "admin-token"
        token.write_text(a.admin_token + "\n")
        token.chmod(0o600)
        yield a, start("b", shared), start("c", other)


@needs(POSTGRES_URL is not None, "TEMPLATER_TEST_POSTGRES_URL is not set (README: Development)")
def test_an_agent_on_one_server_is_followed_through_another(
    two_registries: tuple[Server, Server, Server],
) -> None:
    a, b, c = two_registries
    alice = new_user(a, "alice")
    apply_apps(a, alice, "alice", "dev", [app_json("code", 9)])
    elsewhere = new_user(c, "alice")
    through_b = _follow(b, alice)
    through_c = _follow(c, elsewhere)
    with agents_running(a, (alice, "alice", "dev")):
        assert eventually(lambda: "event: agent" in through_b), through_b
    data = [line for line in through_b if line.startswith("data:") and '"state"' in line]
    assert data and '"state": "connected"' in data[0], through_b
    assert through_c == []
