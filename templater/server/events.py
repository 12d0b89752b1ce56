"""The events the control plane streams to clients (``/api/v1/events``): each subscriber gets
the changes of the workspaces it may see, as they happen: apps' health (``event: health``),
agents' states (``event: agent``) and the ports agents listen on (``event: ports``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from templater.model.records import AgentEvent, HealthEvent, ListeningPort, PortsEvent, User

Event = HealthEvent | AgentEvent | PortsEvent

# A subscriber that does not keep up loses its oldest events rather than slowing everyone.
_QUEUE_LIMIT = 1000
_KEEPALIVE_SECONDS = 15.0


@dataclass(eq=False)
class _Subscriber:
    user: User
    session: int | None
    """The browser session the stream was opened with; None for an API token's."""
    # None is the end of the stream: the server is stopping, or the user's credentials ended.
    queue: asyncio.Queue[Event | None] = field(default_factory=lambda: asyncio.Queue(_QUEUE_LIMIT))

    def may_see(self, event: Event) -> bool:
        return self.user.is_admin or event.owner == self.user.name


class EventBroker:
    """Hands each published event to the subscribers allowed to see it. Used from the event
    loop's thread only."""

    def __init__(self) -> None:
        self._subscribers: set[_Subscriber] = set()

    def close(self) -> None:
        """End every stream, so that a stopping server does not wait for its clients."""
        self._end(self._subscribers)

    def end_streams_of(self, name: str) -> None:
        """End the user's streams: the credential they were opened with may have ended (a client
        that still has a good one reconnects)."""
        self._end([subscriber for subscriber in self._subscribers if subscriber.user.name == name])

    def end_streams_of_session(self, session: int) -> None:
        """End the streams a browser opened with ``session``, which was signed out."""
        self._end([subscriber for subscriber in self._subscribers if subscriber.session == session])

    @staticmethod
    def _end(subscribers: Iterable[_Subscriber]) -> None:
        for subscriber in subscribers:
            if subscriber.queue.full():
                subscriber.queue.get_nowait()
            subscriber.queue.put_nowait(None)

    def publish(self, events: Iterable[Event]) -> None:
        """Hand each event (a change of health, of an agent's state or of its ports) to the
        subscribers that may see it: the workspace's owner and admins."""
        for event in events:
            for subscriber in self._subscribers:
                if subscriber.may_see(event):
                    if subscriber.queue.full():
                        subscriber.queue.get_nowait()
                    subscriber.queue.put_nowait(event)

    async def stream(self, user: User, session: int | None = None) -> AsyncIterator[str]:
        """Server-sent events for ``user``: one ``health``, ``agent`` or ``ports`` event per
        change, and a comment line now and then so that proxies keep the connection open.
        ``session`` is the browser session it is for, if it is one's."""
        subscriber = _Subscriber(user, session)
        self._subscribers.add(subscriber)
        try:
            yield ": connected\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(subscriber.queue.get(), _KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if event is None:
                    return
                yield f"event: {event_kind(event)}\ndata: {json.dumps(event_json(event))}\n\n"
        finally:
            self._subscribers.discard(subscriber)


_KINDS: dict[type[Event], str] = {HealthEvent: "health", AgentEvent: "agent", PortsEvent: "ports"}


def event_kind(event: Event) -> str:
    """The event's name in the stream: ``health``, ``agent`` or ``ports``."""
    return _KINDS[type(event)]


def event_from_json(kind: str, data: dict[str, Any]) -> Event:
    """The event that ``event_json`` made ``data`` of; ValueError, KeyError or TypeError for
    anything else."""
    if kind == "ports":
        ports = tuple(ListeningPort(int(p["port"]), str(p["process"])) for p in data["ports"])
        return PortsEvent(data["owner"], data["workspace"], data["agent"], ports)
    at = datetime.fromisoformat(data["at"])
    if kind == "agent":
        return AgentEvent(data["owner"], data["workspace"], data["agent"], data["state"], at)
    if kind == "health":
        return HealthEvent(
            data["owner"], data["workspace"], data["slug"], data["health"], data["reason"], at
        )
    raise ValueError(f"unknown event kind {kind!r}")


def event_json(event: Event) -> dict[str, object]:
    if isinstance(event, PortsEvent):
        return {
            "owner": event.owner,
            "workspace": event.workspace,
            "agent": event.agent,
            "ports": [{"port": p.port, "process": p.process} for p in event.ports],
        }
    if isinstance(event, AgentEvent):
        return {
            "owner": event.owner,
            "workspace": event.workspace,
            "agent": event.agent,
            "state": event.state,
            "at": event.at.isoformat(),
        }
    return {
        "owner": event.owner,
        "workspace": event.workspace,
        "slug": event.slug,
        "health": event.health,
        "reason": event.reason,
        "at": event.at.isoformat(),
    }
