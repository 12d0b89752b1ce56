"""Streams into workspaces, as each process serving the front port sees them (SPEC §11).

A process that needs ``localhost:PORT`` in a workspace (the router, for an app or a port URL)
calls ``StreamBroker.open``: it makes a stream id that names this process, asks the hub (the
main process holds every agent's control channel) to have the agent open it, and waits. The
agent dials the port, then connects back to the front port with that id; whichever process
accepts the connection hands it to ``adopt``. When that is another process, the socket itself
is passed to the one waiting, over a Unix socket (SCM_RIGHTS), with the bytes already read:
the stream is then that process's own connection, with no relay in between.

A stream for SSH or port-forward (``open_held``) counts against its agent's bound on open
streams (``--max-streams-per-agent``, counted by the hub) until its ``release`` is called.

Stream ids are secrets of 192 random bits; the agent learns one only on its authenticated
control channel, so presenting it is what authorises a stream. An id not waited for is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import secrets
import socket
import struct
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from templater.model.agent_messages import STREAM_PROTOCOL
from templater.relay.joining import Held

OPEN_TIMEOUT = 10.0
"""How long a stream may take to arrive once asked for (the agent's own dial included)."""
_SWITCHING = (
    b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "
    + STREAM_PROTOCOL.encode()
    + b"\r\n\r\n"
)
_LEFTOVER_LIMIT = 64 * 1024


class StreamUnavailable(Exception):
    """A stream that cannot be had, with the reason a person is shown."""


class AgentOffline(StreamUnavailable):
    """The agent is not connected."""


class AgentElsewhere(AgentOffline):
    """The agent is connected, to another server process (a replica), not to this one."""


class PortRefused(StreamUnavailable):
    """The agent could not dial the port."""


class TooManyStreams(StreamUnavailable):
    """The agent has as many held streams open as its bound allows."""


Request = Callable[[int, int, str, str, bool], Awaitable[None]]
"""Ask the hub to open stream ``id`` to ``port`` (protocol tcp or udp) of agent ``agent``,
``held`` (counted against the agent's bound) or not: returns once asked; raises AgentOffline
when the agent is not connected, TooManyStreams when a held one has no room. A refusal arrives
later, through ``refused``."""

Release = Callable[[str], None]
"""Tell the hub that held stream ``id`` ended, or never opened."""


def stream_socket(directory: str, process: int) -> str:
    """Where process ``process`` of a server takes the streams other processes accepted."""
    return str(Path(directory) / f"streams-{process}.sock")


class StreamBroker:
    def __init__(self, process: int, directory: str, request: Request, release: Release) -> None:
        """``process`` numbers this process among the server's (0 is the main one), and
        ``directory`` holds their sockets."""
        self._process = process
        self._directory = directory
        self._request = request
        self._release = release
        self._waiting: dict[str, asyncio.Future[tuple[asyncio.Transport, bytes]]] = {}
        self._listener: socket.socket | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Take the streams other processes pass on."""
        path = stream_socket(self._directory, self._process)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(128)
        listener.setblocking(False)
        asyncio.get_running_loop().add_reader(listener.fileno(), self._accept, listener)
        self._listener = listener

    async def close(self) -> None:
        if self._listener is not None:
            asyncio.get_running_loop().remove_reader(self._listener.fileno())
            self._listener.close()
            self._listener = None
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(StreamUnavailable("the server is stopping"))

    async def open(
        self, agent: int, port: int, protocol: str = "tcp"
    ) -> tuple[asyncio.Transport, bytes]:
        """A stream to ``port`` (``protocol``) in agent ``agent``'s workspace, with the bytes
        it already sent. Raises StreamUnavailable (AgentOffline, PortRefused) saying why not."""
        return await self._open(self._new_id(), agent, port, protocol, False)

    async def open_held(
        self, agent: int, port: int, protocol: str
    ) -> tuple[asyncio.Transport, bytes, Callable[[], None]]:
        """As ``open``, for a stream that counts against the agent's bound until the function
        returned with it is called (once its connection ends); raises TooManyStreams too."""
        stream_id = self._new_id()
        try:
            stream, early = await self._open(stream_id, agent, port, protocol, True)
        except BaseException:
            self._release(stream_id)
            raise
        return stream, early, functools.partial(self._release, stream_id)

    def _new_id(self) -> str:
        """A stream id that names this process (the one the stream is to be passed to)."""
        return f"{self._process}.{secrets.token_urlsafe(24)}"

    async def _open(
        self, stream_id: str, agent: int, port: int, protocol: str, held: bool
    ) -> tuple[asyncio.Transport, bytes]:
        future: asyncio.Future[tuple[asyncio.Transport, bytes]] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiting[stream_id] = future
        try:
            await self._request(agent, port, stream_id, protocol, held)
            return await asyncio.wait_for(future, OPEN_TIMEOUT)
        except TimeoutError:
            raise StreamUnavailable(
                f"the workspace agent did not open a stream to port {port} within "
                f"{OPEN_TIMEOUT:g} s"
            ) from None
        finally:
            self._waiting.pop(stream_id, None)

    def refused(self, stream_id: str, reason: str) -> None:
        """The agent could not open stream ``stream_id``."""
        future = self._waiting.get(stream_id)
        if future is not None and not future.done():
            future.set_exception(PortRefused(reason))

    def adopt(self, stream_id: str, transport: asyncio.Transport, leftover: bytes) -> None:
        """A stream connection that arrived here, its head read (``leftover``: what came after
        it). Given to the open() waiting for it, here or in the process its id names."""
        owner, _, _ = stream_id.partition(".")
        if owner == str(self._process) or not owner.isdigit():
            self._arrived(stream_id, transport, leftover)
            return
        sock = transport.get_extra_info("socket")
        if sock is None or len(leftover) > _LEFTOVER_LIMIT:
            transport.abort()
            return
        duplicate = os.dup(sock.fileno())
        transport.abort()
        self._spawn(
            _pass_on(stream_socket(self._directory, int(owner)), stream_id, duplicate, leftover)
        )

    def _arrived(self, stream_id: str, transport: asyncio.Transport, leftover: bytes) -> None:
        future = self._waiting.get(stream_id)
        if future is None or future.done():
            transport.abort()  # an id nobody waits for: late, made up, or used twice
            return
        transport.write(_SWITCHING)
        future.set_result((transport, leftover))

    def _accept(self, listener: socket.socket) -> None:
        try:
            channel, _ = listener.accept()
        except OSError:
            return
        channel.setblocking(False)
        handover = _Handover(self, channel)
        asyncio.get_running_loop().add_reader(channel.fileno(), handover.readable)

    def _received(self, stream_id: str, descriptor: int, leftover: bytes) -> None:
        """A stream another process accepted for this one."""
        future = self._waiting.get(stream_id)
        if future is None or future.done():
            os.close(descriptor)
            return
        sock = socket.socket(fileno=descriptor)
        loop = asyncio.get_running_loop()

        async def connect() -> None:
            try:
                transport, _ = await loop.connect_accepted_socket(Held, sock)
            except OSError:
                sock.close()
                return
            self._arrived(stream_id, transport, leftover)

        self._spawn(connect())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _pass_on(path: str, stream_id: str, descriptor: int, leftover: bytes) -> None:
    """Send a stream's socket and its first bytes to the process waiting for it."""
    header = json.dumps({"id": stream_id}).encode()
    message = struct.pack("!II", len(header), len(leftover)) + header + leftover
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as channel:
            channel.setblocking(False)
            loop = asyncio.get_running_loop()
            await loop.sock_connect(channel, path)
            channel.setblocking(True)
            socket.send_fds(channel, [message], [descriptor])
    except OSError:
        pass
    finally:
        os.close(descriptor)


class _Handover:
    """One passed-on stream being received: a length-prefixed header and leftover, with the
    stream's socket alongside the first bytes."""

    def __init__(self, broker: StreamBroker, channel: socket.socket) -> None:
        self._broker = broker
        self._channel = channel
        self._data = b""
        self._descriptors: list[int] = []

    def readable(self) -> None:
        try:
            data, descriptors, _, _ = socket.recv_fds(self._channel, 16 + 4096 + _LEFTOVER_LIMIT, 1)
        except BlockingIOError:
            return
        except OSError:
            data, descriptors = b"", []
        self._descriptors.extend(descriptors)
        self._data += data
        message = _complete(self._data)
        if message is None and data and len(self._data) <= 8 + 4096 + _LEFTOVER_LIMIT:
            return  # more to come
        self._end()
        if message is None or len(self._descriptors) != 1:
            for descriptor in self._descriptors:
                os.close(descriptor)
            return
        stream_id, leftover = message
        self._broker._received(stream_id, self._descriptors[0], leftover)

    def _end(self) -> None:
        asyncio.get_running_loop().remove_reader(self._channel.fileno())
        self._channel.close()


def _complete(data: bytes) -> tuple[str, bytes] | None:
    """The stream id and leftover of a whole handover message; None while it is not whole or
    when it is not one."""
    if len(data) < 8:
        return None
    header_size, leftover_size = struct.unpack("!II", data[:8])
    if header_size > 4096 or leftover_size > _LEFTOVER_LIMIT:
        return None
    if len(data) < 8 + header_size + leftover_size:
        return None
    try:
        stream_id = str(json.loads(data[8 : 8 + header_size])["id"])
    except (ValueError, KeyError, TypeError):
        return None
    return stream_id, data[8 + header_size : 8 + header_size + leftover_size]
