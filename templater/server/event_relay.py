"""Events between the servers of one PostgreSQL registry: an agent is connected to one server,
but a browser or ``templater apps --watch`` may follow it through any other. Each server sends
its own events with ``NOTIFY`` and hands the other servers' to its own event broker.

Two threads with a connection each (psycopg, the driver the store already uses): one sends,
one listens; a lost connection is opened again, and the events of the meantime are lost (the
pages re-read the registry on the next event or refresh). ``NOTIFY`` is for the database, not a
schema: the channel is named for the registry's schema, so that registries side by side in one
database keep their events apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import queue
import threading
from collections.abc import Callable, Sequence

import psycopg
from sqlalchemy.engine import make_url

from templater.server.events import Event, event_from_json, event_json, event_kind

logger = logging.getLogger("templater.server")

_PAYLOAD_LIMIT = 7900
"""PostgreSQL's notification payloads are shorter than 8,000 bytes."""
_RETRY_SECONDS = 2.0
_POLL_SECONDS = 1.0
"""How long the listener waits for a notification before looking whether it should stop."""


def _conninfo(url: str) -> str:
    """A libpq URI for the store's SQLAlchemy URL (its options, the schema's search_path, kept)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class EventRelay:
    """Start with ``start`` on the event loop that ``deliver`` must be called on."""

    def __init__(self, url: str, deliver: Callable[[list[Event]], None]) -> None:
        self._conninfo = _conninfo(url)
        self._deliver = deliver
        self._outbox: queue.Queue[str | None] = queue.Queue(maxsize=10_000)
        self._stopping = threading.Event()
        self._sender_pid: int | None = None
        self._threads: list[threading.Thread] = []
        self._channel = ""
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._channel = await asyncio.to_thread(self._channel_name)
        for name, work in (("send", self._send), ("listen", self._listen)):
            thread = threading.Thread(target=work, name=f"templater-events-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _channel_name(self) -> str:
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            row = conn.execute("SELECT current_database(), current_schema()").fetchone()
        digest = hashlib.sha256(repr(row).encode()).hexdigest()[:16]
        return f"templater_events_{digest}"

    def send(self, events: Sequence[Event]) -> None:
        """Tell the other servers about ``events`` (this server's broker has them already)."""
        for event in events:
            payload = json.dumps({"kind": event_kind(event), "data": event_json(event)})
            if len(payload.encode()) > _PAYLOAD_LIMIT:
                logger.debug("event too large for NOTIFY, not relayed: %s", event_kind(event))
                continue
            if self._outbox.full():  # the database is away: newer events matter more
                with contextlib.suppress(queue.Empty):
                    self._outbox.get_nowait()
            with contextlib.suppress(queue.Full):
                self._outbox.put_nowait(payload)

    def close(self) -> None:
        self._stopping.set()
        self._outbox.put(None)
        for thread in self._threads:
            thread.join(timeout=_POLL_SECONDS * 3)

    def _send(self) -> None:
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    self._sender_pid = conn.info.backend_pid
                    while (payload := self._outbox.get()) is not None:
                        conn.execute("SELECT pg_notify(%s, %s)", (self._channel, payload))
            except psycopg.Error as problem:
                logger.warning("cannot send events to the other servers: %s", problem)
                self._stopping.wait(_RETRY_SECONDS)

    def _listen(self) -> None:
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    conn.execute(f'LISTEN "{self._channel}"')
                    while not self._stopping.is_set():
                        for notice in conn.notifies(timeout=_POLL_SECONDS):
                            if notice.pid != self._sender_pid:
                                self._received(notice.payload)
            except psycopg.Error as problem:
                logger.warning("cannot hear the other servers' events: %s", problem)
                self._stopping.wait(_RETRY_SECONDS)

    def _received(self, payload: str) -> None:
        try:
            message = json.loads(payload)
            event = event_from_json(message["kind"], message["data"])
        except (ValueError, KeyError, TypeError) as problem:
            logger.warning("an event from another server could not be read: %s", problem)
            return
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._deliver, [event])
