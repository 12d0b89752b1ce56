"""A UDP forward (SPEC §9): each local client address gets a stream of its own to the UDP port
in the workspace, one datagram per message, closed after IDLE_TIMEOUT without traffic either
way. Datagrams that arrive while the stream opens wait for it (a few: UDP may drop more)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

from templater.forwarding.notice import Notice
from templater.forwarding.remote import StreamRefused, Streams
from templater.model.forwarding import PortForward
from templater.relay.datagrams import DatagramStream, carry

IDLE_TIMEOUT = 60.0
"""Seconds without a datagram either way after which a client address's stream is closed."""
_WAITING = 64
"""Datagrams kept per client address while its stream opens."""


class UdpForward:
    """The client addresses of one forward's listeners; ``say`` tells the user of a problem,
    once until a stream opens again."""

    def __init__(self, ports: Streams, forward: PortForward, say: Callable[[str], None]):
        self._ports = ports
        self._forward = forward
        self._notice = Notice(say)

    def protocol(self) -> asyncio.DatagramProtocol:
        """The protocol of one of its listeners."""
        return _Listener(self)

    async def open(
        self, received: Callable[[bytes], None], closed: Callable[[], None]
    ) -> DatagramStream | None:
        """A new stream to the port, its datagrams to ``received`` and its end to ``closed``;
        or None (said) when there is none to be had."""
        port = self._forward.remote_port
        try:
            stream, early = await self._ports.open("udp", port)
        except StreamRefused as problem:
            self._notice.failed(f"{self._ports.name}:{port} (udp): {problem}; datagrams dropped")
            return None
        self._notice.worked()
        return carry(stream, early, received, closed)


class _Listener(asyncio.DatagramProtocol):
    def __init__(self, forward: UdpForward) -> None:
        self.forward = forward
        self._clients: dict[Any, _Client] = {}
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        client = self._clients.get(addr)
        if client is None:
            client = self._clients[addr] = _Client(self, addr)
        client.send(data)

    def error_received(self, exc: Exception) -> None:
        pass  # a client that went away: its stream ends when it goes idle

    def answer(self, addr: Any, datagram: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(datagram, addr)

    def forget(self, client: _Client) -> None:
        if self._clients.get(client.addr) is client:
            del self._clients[client.addr]


class _Client:
    """One local client address and its stream, opened on its first datagram."""

    def __init__(self, listener: _Listener, addr: Any) -> None:
        self.addr = addr
        self._listener = listener
        self._waiting: list[bytes] = []
        self._stream: DatagramStream | None = None
        self._loop = asyncio.get_running_loop()
        self._last = self._loop.time()
        self._idle = self._loop.call_later(IDLE_TIMEOUT, self._check_idle)
        self._opening = self._loop.create_task(self._open())

    async def _open(self) -> None:
        stream = await self._listener.forward.open(self._answer, self._end)
        if stream is None:
            self._end()
            return
        self._stream = stream
        for datagram in self._waiting:
            stream.send(datagram)
        self._waiting.clear()

    def send(self, datagram: bytes) -> None:
        self._last = self._loop.time()
        if self._stream is not None:
            self._stream.send(datagram)
        elif len(self._waiting) < _WAITING:
            self._waiting.append(datagram)

    def _answer(self, datagram: bytes) -> None:
        self._last = self._loop.time()
        self._listener.answer(self.addr, datagram)

    def _check_idle(self) -> None:
        idle = self._loop.time() - self._last
        if idle >= IDLE_TIMEOUT:
            self._end()
        else:
            self._idle = self._loop.call_later(IDLE_TIMEOUT - idle, self._check_idle)

    def _end(self) -> None:
        self._idle.cancel()
        self._listener.forget(self)
        if self._stream is not None:
            stream, self._stream = self._stream, None
            stream.close()
