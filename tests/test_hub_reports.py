"""The agent hub on a real store, fed a hostile agent's control channel (SPEC §15): a flood of
reports costs the registry a bounded number of writes, and the agent's last word is kept."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

from templater.model.agent_messages import PORTS_EVERY, Hello, Ports, encode
from templater.model.records import ListeningPort, PortsEvent
from templater.server.hub import AgentHub
from templater.server.store import Store

from .test_store import app, desired

FLOOD = 1000


class _Channel:
    async def send_text(self, data: str) -> None:
        pass

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        pass


class _CountingStore(Store):
    """A store that counts its writes of agents' ports."""

    port_writes = 0

    def set_agent_ports(self, agent_id: int, ports: Sequence[ListeningPort]) -> PortsEvent | None:
        self.port_writes += 1
        return super().set_agent_ports(agent_id, ports)


def test_a_flood_of_port_reports_is_stored_once_a_second_at_most(tmp_path: Path) -> None:
    store = _CountingStore(f"sqlite:///{tmp_path / 'registry.db'}")
    store.migrate()
    store.create_user("alice", "member")
    store.apply("alice", "dev", 0, desired(app("web")))
    token = store.issue_agent_token("alice", "dev", "main")
    identity = store.agent_by_token(token)
    assert identity is not None
    last = (ListeningPort(8000 + FLOOD - 1, "flood"),)

    def stored() -> tuple[ListeningPort, ...]:
        [agent] = store.list_agents("alice", "dev")
        return agent.ports

    async def flood() -> float:
        hub = AgentHub(store, lambda events: None, lambda stream, reason: None, lambda: None)
        messages: asyncio.Queue[str] = asyncio.Queue()
        messages.put_nowait(encode(Hello("1", "linux", "amd64", "flooder")))
        for number in range(FLOOD):
            messages.put_nowait(encode(Ports((ListeningPort(8000 + number, "flood"),))))
        started = time.monotonic()
        served = asyncio.create_task(hub.serve(identity, "hash", _Channel(), messages.get))
        deadline = time.monotonic() + 60
        while await asyncio.to_thread(stored) != last:
            assert time.monotonic() < deadline, "the agent's last report was never stored"
            await asyncio.sleep(0.05)
        elapsed = time.monotonic() - started
        messages.put_nowait("not a message")  # the hub closes a channel that talks nonsense
        await asyncio.wait_for(served, 30)
        await hub.close()
        return elapsed

    elapsed = asyncio.run(flood())
    # The first at once, then one a PORTS_EVERY while the flood lasts: not one per report.
    assert 1 <= store.port_writes <= 2 + elapsed / PORTS_EVERY, (store.port_writes, elapsed)
    store.close()
