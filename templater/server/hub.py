"""The agents' control channels, held by the server's main process (SPEC §11).

Each connected agent has one WebSocket here (a second connection with the same token replaces
the first). Through it the hub hears the agent's hello, its apps' health and its listening ports,
and writes them to the registry; it tells the agent which apps to check, again after every
apply; and it asks the agent to open streams for the server's processes (``request_stream``
here, ``HubLink`` from the others), counting the SSH and port-forward streams each agent has
open against its bound (``OpenStreams``). A registry change ends the channels of agents that were
removed or whose token was replaced.

What an agent sends is hostile input: ``decode`` refuses anything but the documented messages,
and a message that is not one closes that agent's channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from templater.model.agent_messages import (
    PORTS_EVERY,
    BadMessage,
    Checks,
    Health,
    Hello,
    Open,
    Ports,
    Refused,
    decode,
    encode,
)
from templater.model.limits import DEFAULT_LIMITS, MemberLimits, streams_breach
from templater.model.records import AgentCheck, AgentIdentity, ListeningPort
from templater.server.health_reports import HealthReports
from templater.server.logs import event_log
from templater.server.open_streams import OpenStreams
from templater.server.store import Store, StoreError
from templater.server.streams import AgentElsewhere, AgentOffline, TooManyStreams

logger = logging.getLogger("templater.server.hub")

SERVER_ID = f"{socket.gethostname()}:{os.getpid()}"
"""This server, as the registry records which one holds an agent's channel."""
_LINE_LIMIT = 4096


def hub_socket(directory: str) -> str:
    """Where the server's other processes reach the hub."""
    return os.path.join(directory, "hub.sock")


class Channel(Protocol):
    """What the hub needs of an agent's WebSocket (Starlette's, in the server)."""

    async def send_text(self, data: str) -> None: ...

    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


@dataclass(eq=False)
class _Connected:
    identity: AgentIdentity
    token_hash: str
    channel: Channel
    reports: HealthReports
    done: asyncio.Event = field(default_factory=asyncio.Event)
    # Held while reports are taken and stored, so that an app's changes are stored in order.
    storing: asyncio.Lock = field(default_factory=asyncio.Lock)
    # The latest listening ports not yet stored, and when the ones before were.
    ports: tuple[ListeningPort, ...] | None = None
    ports_stored_at: float = -PORTS_EVERY
    # What is to be stored later ("health", "ports"), when the agent's budget allows.
    due: set[str] = field(default_factory=set)


class AgentHub:
    """Use from the event loop's thread, but ``registry_changed``, which any thread may call."""

    def __init__(
        self,
        store: Store,
        publish: Callable[[list[Any]], None],
        refused: Callable[[str, str], None],
        state_changed: Callable[[], None],
        limits: MemberLimits = DEFAULT_LIMITS,
    ) -> None:
        """``publish`` hands events to the events stream; ``refused`` tells a process's
        StreamBroker that the agent could not open one of its streams; ``state_changed`` is
        called when an agent connects or disconnects (the router's routes change with it).
        An agent's reports of health are stored as fast as ``limits`` let its checks run, all
        of a workspace's apps at once."""
        self._store = store
        self._limits = limits
        self._publish = publish
        self._refused = refused
        self._state_changed = state_changed
        self._connected: dict[int, _Connected] = {}
        self._open_streams = OpenStreams(limits.streams_per_agent)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def serve(
        self,
        identity: AgentIdentity,
        token_hash: str,
        channel: Channel,
        receive: Callable[[], Coroutine[Any, Any, str]],
    ) -> None:
        """Carry one agent's accepted control channel until it ends."""
        self._loop = asyncio.get_running_loop()
        agent = identity.agent_id
        previous = self._connected.get(agent)
        per_second = self._limits.checks_per_second_per_agent
        reports = HealthReports(
            per_second,
            max(per_second, self._limits.apps_per_workspace),
            self._loop.time(),
        )
        connected = _Connected(identity, token_hash, channel, reports)
        self._connected[agent] = connected
        if previous is not None:
            logger.info(
                "agent %s connected again; the older connection is replaced", _name(identity)
            )
            self._spawn(previous.channel.close(4000, "replaced by a newer connection"))
        hello = False
        try:
            while True:
                text = await receive()
                message = decode(text)
                match message:
                    case Hello():
                        await self._hello(connected, message)
                        hello = True
                    case Health() if hello:
                        connected.reports.add(message.changes)
                        await self._store_health(connected)
                    case Ports() if hello:
                        connected.ports = message.ports
                        await self._store_ports(connected)
                    case Refused():
                        self._refused(message.id, message.reason)
                    case _:
                        raise BadMessage(f"unexpected {type(message).__name__.lower()} message")
        except BadMessage as problem:
            logger.warning(
                "agent %s sent nonsense, closing its channel: %s", _name(identity), problem
            )
            with contextlib.suppress(Exception):
                await channel.close(1008, str(problem)[:120])
        finally:
            if self._connected.get(agent) is connected:
                del self._connected[agent]
                event = await asyncio.to_thread(
                    self._store.agent_disconnected, agent, SERVER_ID, datetime.now(UTC)
                )
                if event is not None:
                    self._state_changed()
                    self._publish([event])
                    logger.info("agent %s disconnected", _name(identity))

    async def _store_health(self, connected: _Connected) -> None:
        """Store the agent's changes of health that its budget lets through now; if some must
        wait, store them once it lets them through."""
        loop = asyncio.get_running_loop()
        async with connected.storing:
            ready = connected.reports.ready(loop.time())
            if ready:
                events = await asyncio.to_thread(
                    self._store.record_agent_health,
                    connected.identity.agent_id,
                    [(c.slug, c.state, c.reason, c.at) for c in ready],
                )
                for health in events:
                    event_log.info(
                        "health owner=%s workspace=%s slug=%s from=%s to=%s reason=%s",
                        health.owner,
                        health.workspace,
                        health.slug,
                        health.previous,
                        health.health,
                        health.reason,
                    )
                self._publish(events)
        delay = connected.reports.wait(loop.time())
        if delay is not None:
            self._store_later(connected, "health", delay, self._store_health)

    async def _store_ports(self, connected: _Connected) -> None:
        """Store the agent's latest listening ports, once a PORTS_EVERY at most: an agent that
        reports faster (hostile input) has its reports coalesced to the latest."""
        wait = connected.ports_stored_at + PORTS_EVERY - asyncio.get_running_loop().time()
        if wait > 0:
            self._store_later(connected, "ports", wait, self._store_ports)
            return
        ports, connected.ports = connected.ports, None
        if ports is not None:
            connected.ports_stored_at = asyncio.get_running_loop().time()
            event = await asyncio.to_thread(
                self._store.set_agent_ports, connected.identity.agent_id, ports
            )
            if event is not None:
                self._publish([event])

    def _store_later(
        self,
        connected: _Connected,
        what: str,
        delay: float,
        store: Callable[[_Connected], Coroutine[Any, Any, None]],
    ) -> None:
        """Run ``store`` (what stores the agent's ``what``) in ``delay`` seconds, unless it is
        due already."""
        if what in connected.due:
            return
        connected.due.add(what)

        async def later() -> None:
            await asyncio.sleep(delay)
            connected.due.discard(what)
            if self._connected.get(connected.identity.agent_id) is not connected:
                return  # what a closed channel reported is dropped with it
            try:
                await store(connected)
            except StoreError as problem:
                logger.warning(
                    "agent %s: its %s could not be stored: %s",
                    _name(connected.identity),
                    what,
                    problem,
                )

        self._spawn(later())

    async def _hello(self, connected: _Connected, hello: Hello) -> None:
        identity = connected.identity
        event = await asyncio.to_thread(
            self._store.agent_connected,
            identity.agent_id,
            SERVER_ID,
            hello.version,
            hello.os,
            hello.arch,
            hello.hostname,
            datetime.now(UTC),
            hello.ssh_host_key,
        )
        if event is not None:
            self._state_changed()
            self._publish([event])
        logger.info("agent %s connected version=%s os=%s", _name(identity), hello.version, hello.os)
        await self._push_checks(connected)

    async def _push_checks(self, connected: _Connected) -> None:
        checks, app_ports = await asyncio.to_thread(self._checks, connected.identity.agent_id)
        with contextlib.suppress(Exception):  # a closing channel: its own loop ends it
            await connected.channel.send_text(encode(Checks(checks, app_ports)))

    def _checks(self, agent: int) -> tuple[tuple[AgentCheck, ...], tuple[int, ...]]:
        found = self._store.agent_checks(agent)
        checks = tuple(found)
        urls = [*self._store.agent_app_urls(agent), *(c.url for c in found)]
        return checks, tuple(sorted({_port(url) for url in urls} - {0}))

    async def request_stream(
        self, agent: int, port: int, stream_id: str, protocol: str = "tcp", held: bool = False
    ) -> None:
        """Ask agent ``agent`` to open stream ``stream_id`` to ``port`` (``protocol``); a
        ``held`` one counts against the agent's open streams until ``release_stream``."""
        connected = self._connected.get(agent)
        if connected is None:
            holder = await asyncio.to_thread(self._store.agent_server, agent)
            if holder is not None and holder != SERVER_ID:
                # Where a replica will relay the stream request to the server holding the
                # agent's channel (SPEC §11, several replicas): not built yet.
                raise AgentElsewhere(
                    f"the workspace agent is connected to another templater server ({holder}), "
                    "and servers do not relay to each other yet"
                )
            raise AgentOffline("the workspace agent is not connected")
        if held and not self._open_streams.take(agent, stream_id):
            raise TooManyStreams(streams_breach(self._limits, _name(connected.identity)).message)
        try:
            await connected.channel.send_text(encode(Open(stream_id, port, protocol)))
        except Exception:
            self._open_streams.give_back(stream_id)
            raise AgentOffline("the workspace agent's connection just ended") from None

    def release_stream(self, stream_id: str) -> None:
        """Held stream ``stream_id`` ended, or never opened."""
        self._open_streams.give_back(stream_id)

    def release_process(self, process: str) -> None:
        """Every held stream of server process ``process``."""
        self._open_streams.give_back_process(process)

    def registry_changed(self) -> None:
        """Agents may have been removed or given new tokens, and apps changed: from any
        thread."""
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(self._spawn, self._revalidate())

    async def _revalidate(self) -> None:
        connected = list(self._connected.values())
        if not connected:
            return
        hashes = await asyncio.to_thread(
            self._store.agent_token_hashes, [c.identity.agent_id for c in connected]
        )
        for entry in connected:
            if hashes.get(entry.identity.agent_id) != entry.token_hash:
                logger.info("agent %s: its token ended, closing its channel", _name(entry.identity))
                with contextlib.suppress(Exception):
                    await entry.channel.close(4001, "the agent token ended")
            else:
                await self._push_checks(entry)

    async def recover(self) -> None:
        """At start-up, before any agent connects: release the agents that the registry says are
        held by a server process of this machine that is no longer running (one that was
        killed), so that they read as disconnected until they dial in again, not as connected
        for ever. Servers on other machines are left to themselves."""
        host = socket.gethostname()
        events = []
        for server in await asyncio.to_thread(self._store.agent_servers):
            name, _, pid = server.rpartition(":")
            # This process holds nothing yet: its own id there is a dead process's (a reused
            # pid, as in a container).
            gone = server == SERVER_ID or (pid.isdigit() and not _alive(int(pid)))
            if name == host and gone:
                released = await asyncio.to_thread(
                    self._store.release_agents, server, datetime.now(UTC)
                )
                logger.info(
                    "server process %s is gone: %d agents it held are disconnected",
                    server,
                    len(released),
                )
                events += released
        if events:
            self._state_changed()
            self._publish(events)

    async def close(self) -> None:
        for entry in list(self._connected.values()):
            with contextlib.suppress(Exception):
                await entry.channel.close(1001, "the server is stopping")

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _name(identity: AgentIdentity) -> str:
    return f"{identity.owner}/{identity.workspace}.{identity.agent}"


def _port(url: str) -> int:
    try:
        parts = urlsplit(url)
        return parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return 0


# ------------------------------------------------------------------ the other processes' link


class HubService:
    """The hub's side of its Unix socket: the server's other processes ask for streams here,
    hear of their refusals, and say when their held streams end."""

    def __init__(self, hub: AgentHub) -> None:
        self._hub = hub
        self._links: dict[str, asyncio.StreamWriter] = {}
        self._server: asyncio.AbstractServer | None = None

    async def start(self, path: str) -> None:
        self._server = await asyncio.start_unix_server(self._serve, path, limit=_LINE_LIMIT)

    def refused(self, stream_id: str, reason: str) -> bool:
        """Tell the process that waits for ``stream_id``; whether one of them does."""
        writer = self._links.get(stream_id.partition(".")[0])
        if writer is None:
            return False
        writer.write(json.dumps({"id": stream_id, "refused": reason}).encode() + b"\n")
        return True

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._links.values():
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        process = ""
        try:
            while line := await reader.readline():
                request = json.loads(line)
                process = str(request["process"])
                self._links[process] = writer
                if "release" in request:
                    self._hub.release_stream(str(request["release"]))
                if "id" not in request:
                    continue
                stream_id = str(request["id"])
                try:
                    await self._hub.request_stream(
                        int(request["agent"]),
                        int(request["port"]),
                        stream_id,
                        str(request.get("protocol", "tcp")),
                        bool(request.get("held", False)),
                    )
                    answer: dict[str, str] = {"id": stream_id, "asked": ""}
                except AgentOffline as problem:
                    answer = {"id": stream_id, "offline": str(problem)}
                except TooManyStreams as problem:
                    answer = {"id": stream_id, "busy": str(problem)}
                writer.write(json.dumps(answer).encode() + b"\n")
        except (ValueError, KeyError, TypeError, ConnectionError):
            pass
        finally:
            if self._links.get(process) is writer:
                del self._links[process]
                # Its held streams are counted no more: the process is gone, or it reconnects
                # to a hub that has restarted and knows none of them.
                self._hub.release_process(process)
            writer.close()


class HubLink:
    """A non-main process's way to the hub: ``request`` is its StreamBroker's Request."""

    def __init__(self, process: int, path: str, refused: Callable[[str, str], None]) -> None:
        self._process = process
        self._path = path
        self._refused = refused
        self._writer: asyncio.StreamWriter | None = None
        self._answers: dict[str, asyncio.Future[None]] = {}
        self._lock = asyncio.Lock()
        self._reading: asyncio.Task[None] | None = None

    async def request(
        self, agent: int, port: int, stream_id: str, protocol: str, held: bool
    ) -> None:
        writer = await self._connection()
        answer: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._answers[stream_id] = answer
        try:
            writer.write(
                json.dumps(
                    {
                        "process": self._process,
                        "agent": agent,
                        "port": port,
                        "id": stream_id,
                        "protocol": protocol,
                        "held": held,
                    }
                ).encode()
                + b"\n"
            )
            await answer
        finally:
            self._answers.pop(stream_id, None)

    def release(self, stream_id: str) -> None:
        """Its StreamBroker's Release. With the link down there is nothing to tell: the hub
        gave this process's streams back when it ended."""
        if self._writer is not None and not self._writer.is_closing():
            message = {"process": self._process, "release": stream_id}
            self._writer.write(json.dumps(message).encode() + b"\n")

    async def _connection(self) -> asyncio.StreamWriter:
        async with self._lock:
            if self._writer is None or self._writer.is_closing():
                try:
                    reader, writer = await asyncio.open_unix_connection(
                        self._path, limit=_LINE_LIMIT
                    )
                except OSError:
                    raise AgentOffline("the server's main process cannot be reached") from None
                writer.write(json.dumps({"process": self._process}).encode() + b"\n")
                self._writer = writer
                self._reading = asyncio.get_running_loop().create_task(self._read(reader))
            return self._writer

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while line := await reader.readline():
                answer = json.loads(line)
                stream_id = str(answer["id"])
                waiting = self._answers.get(stream_id)
                if "refused" in answer:
                    self._refused(stream_id, str(answer["refused"]))
                elif waiting is not None and not waiting.done():
                    if "offline" in answer:
                        waiting.set_exception(AgentOffline(str(answer["offline"])))
                    elif "busy" in answer:
                        waiting.set_exception(TooManyStreams(str(answer["busy"])))
                    else:
                        waiting.set_result(None)
        except (ValueError, KeyError, TypeError, ConnectionError):
            pass
        finally:
            self._writer = None
            for waiting in self._answers.values():
                if not waiting.done():
                    waiting.set_exception(AgentOffline("the server's main process went away"))

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._reading is not None:
            self._reading.cancel()
