"""Two connections joined into one stream: what one side sends, the other receives, with
half-close passed on and each side's flow control holding the other back (a slow reader pauses
the fast writer instead of filling the agent's memory)."""

from __future__ import annotations

import asyncio
from typing import cast


class Held(asyncio.Protocol):
    """A connection that reads nothing until it is joined: what it is sent waits in the
    socket (a server-first protocol's greeting included). uvloop starts reading a new
    connection after ``connection_made`` even when it was paused there: what is read then is
    kept (``early``, and whether the other end half-closed, ``eof``) and ``join`` passes it on
    first."""

    def __init__(self) -> None:
        self.early = b""
        self.eof = False
        self._transport: asyncio.ReadTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.ReadTransport, transport)  # uvloop's: no subclasses
        self._transport.pause_reading()

    def data_received(self, data: bytes) -> None:
        self.early += data
        if self._transport is not None:
            self._transport.pause_reading()

    def eof_received(self) -> bool:
        self.eof = True
        return True  # kept open: the joined side passes the half-close on


class _Side(asyncio.Protocol):
    """One end of a joined pair; ``peer`` is the other end."""

    def __init__(self, done: asyncio.Future[None]) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self._done = done
        self._eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.write(data)

    def eof_received(self) -> bool:
        """The other side keeps writing until it is done too: a half-close, passed on."""
        self._eof = True
        peer = self.peer
        if peer is not None and peer.transport is not None and peer.transport.can_write_eof():
            peer.transport.write_eof()
            if peer._eof:
                self._finish()
            return True
        self._finish()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish()

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()

    def _finish(self) -> None:
        for side in (self, self.peer):
            if side is not None and side.transport is not None:
                side.transport.close()
        if not self._done.done():
            self._done.set_result(None)


async def join(
    first: asyncio.Transport,
    second: asyncio.Transport,
    pending: tuple[bytes, bytes] = (b"", b""),
) -> None:
    """Carry bytes between two connected transports until both ends are closed. ``pending``
    holds bytes already read from each (first's, then second's) that the other must get
    first."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    one, two = _Side(done), _Side(done)
    one.peer, two.peer = two, one
    held = [transport.get_protocol() for transport in (first, second)]
    early = [each.early if isinstance(each, Held) else b"" for each in held]
    for side, transport in ((one, first), (two, second)):
        transport.set_protocol(side)
        side.connection_made(transport)
    if pending[0] or early[0]:
        second.write(pending[0] + early[0])
    if pending[1] or early[1]:
        first.write(pending[1] + early[1])
    ended = [isinstance(each, Held) and each.eof for each in held]
    for side, eof in ((one, ended[0]), (two, ended[1])):
        if eof:
            side.eof_received()
    for transport, eof in ((first, ended[0]), (second, ended[1])):
        if transport.is_closing():
            one._finish()
        elif not eof:  # nothing more to read from an end that half-closed
            transport.resume_reading()
    await done
