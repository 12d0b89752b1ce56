"""The API tells the app router when the registry changed (``on_registry_change``), so that it
forgets the routes it cached: after every successful apply, destroy, share and unshare, and
never after a refused one."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from templater.server.api import Deployment, create_app
from templater.server.store import Store

WORKSPACE = "/api/v1/workspaces/alice/dev"
APPLY = {
    "expected_version": 0,
    "source": {},
    "variables": {},
    "agents": [{"name": "main"}],
    "apps": [],
}


class Client:
    """Requests to the API in this process, signed in with ``token``."""

    def __init__(self, app: FastAPI, token: str) -> None:
        self._app = app
        self._headers = {"Authorization": f"Bearer {token}"}

    def request(self, method: str, path: str, **arguments: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self._app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://test", headers=self._headers
            ) as client:
                return await client.request(method, path, **arguments)

        return asyncio.run(send())

    def get(self, path: str) -> httpx.Response:
        return self.request("GET", path)

    def put(self, path: str, json: Any) -> httpx.Response:
        return self.request("PUT", path, json=json)

    def delete(self, path: str) -> httpx.Response:
        return self.request("DELETE", path)


@pytest.fixture
def changes(tmp_path: Path) -> Iterator[tuple[Client, list[str]]]:
    """A client of the API signed in as alice, and the calls of on_registry_change so far."""
    store = Store(f"sqlite:///{tmp_path / 'templater.db'}")
    store.migrate()
    _, token = store.create_user("alice", "member")
    calls: list[str] = []
    app = create_app(
        store,
        Deployment("http://127.0.0.1:7080"),
        on_registry_change=lambda: calls.append("changed"),
    )
    yield Client(app, token), calls
    store.close()


def test_every_change_of_the_registry_is_announced(changes: tuple[Client, list[str]]) -> None:
    client, calls = changes
    assert client.put(WORKSPACE, json=APPLY).status_code == 200
    assert len(calls) == 1
    port = f"{WORKSPACE}/ports/main/8080"
    assert client.put(port, json={"share": "public"}).status_code == 200
    assert len(calls) == 2
    assert client.put(port, json={"share": "authenticated"}).status_code == 200
    assert len(calls) == 3
    assert client.delete(port).status_code == 200
    assert len(calls) == 4
    assert client.put(WORKSPACE, json={**APPLY, "expected_version": 1, "agents": []}).is_success
    assert len(calls) == 5
    assert client.delete(WORKSPACE).status_code == 200
    assert len(calls) == 6


def test_refused_requests_change_nothing_and_announce_nothing(
    changes: tuple[Client, list[str]],
) -> None:
    client, calls = changes
    assert client.put(WORKSPACE, json=APPLY).status_code == 200
    calls.clear()
    assert client.put(WORKSPACE, json=APPLY).status_code == 409  # planned against version 0
    assert client.put(f"{WORKSPACE}/ports/main/8", json={"share": "public"}).status_code == 422
    assert client.put(f"{WORKSPACE}/ports/nope/80", json={"share": "public"}).status_code == 404
    assert client.delete(f"{WORKSPACE}/ports/main/8080").status_code == 404
    assert client.get(f"{WORKSPACE}/ports").json() == []
    assert client.delete("/api/v1/workspaces/alice/nope").status_code == 404
    assert client.delete("/api/v1/workspaces/bob/dev").status_code == 403
    assert calls == []
