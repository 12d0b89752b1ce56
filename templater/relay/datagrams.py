"""UDP over a stream (SPEC §9): each datagram one message, its length in two bytes (big-endian)
and then its bytes, so that datagram boundaries survive the stream. ``templater port-forward``
keeps one such stream per local client address; the agent relays its messages to and from the
workspace's UDP port."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from typing import cast

MAX_DATAGRAM = 65535
"""The most bytes a message carries: a UDP datagram's largest payload fits."""
_LENGTH = struct.Struct("!H")
_BACKLOG = 1 << 20
"""Bytes of datagrams a stream may have waiting to be sent: past it, new ones are dropped, as
a UDP network would drop them."""


def frame(datagram: bytes) -> bytes:
    """The message that carries ``datagram`` (cut to MAX_DATAGRAM)."""
    datagram = datagram[:MAX_DATAGRAM]
    return _LENGTH.pack(len(datagram)) + datagram


class DatagramStream(asyncio.Protocol):
    """A stream that carries datagrams: each one it receives whole goes to ``received``;
    ``closed`` is called once when the stream ends."""

    def __init__(self, received: Callable[[bytes], None], closed: Callable[[], None]) -> None:
        self._received = received
        self._closed = closed
        self._buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data
        start = 0
        while len(buffer) - start >= 2:
            (length,) = _LENGTH.unpack_from(buffer, start)
            end = start + 2 + length
            if end > len(buffer):
                break
            self._received(buffer[start + 2 : end])
            start = end
        self._buffer = buffer[start:]

    def eof_received(self) -> bool:
        return False  # a half-closed datagram stream is a closed one

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._closed()

    def send(self, datagram: bytes) -> None:
        transport = self.transport
        if (
            transport is not None
            and not transport.is_closing()
            and transport.get_write_buffer_size() < _BACKLOG
        ):
            transport.write(frame(datagram))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def carry(
    stream: asyncio.Transport,
    early: bytes,
    received: Callable[[bytes], None],
    closed: Callable[[], None],
) -> DatagramStream:
    """``stream`` (reading paused; ``early``: what it already sent) taken over as a datagram
    stream."""
    protocol = DatagramStream(received, closed)
    stream.set_protocol(protocol)
    protocol.connection_made(stream)
    if early:
        protocol.data_received(early)
    stream.resume_reading()
    return protocol
