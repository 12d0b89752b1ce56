"""Streams from the workspace side (SPEC §11): dial ``localhost:PORT`` first, so that a refusal
is reported as such, then connect back to the control plane, upgrade the connection to a
stream and join the two. Nothing the local port sends is lost: its bytes wait in the socket
until the stream is joined."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

from templater.agent.joining import join
from templater.model.agent_messages import STREAM_PATH, STREAM_PROTOCOL

DIAL_TIMEOUT = 10.0
"""How long the agent waits for a local port, or for the control plane, to accept."""
_HEAD_LIMIT = 16 * 1024


class StreamError(Exception):
    """A stream that could not be opened, with the reason the control plane is told."""


@dataclass(frozen=True, slots=True)
class ControlPlane:
    """Where the agent reaches the control plane: its URL, and a Unix socket that stands for
    its host and port when given (a reverse proxy's, or the server's own)."""

    url: str
    unix_socket: str | None = None

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "localhost"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "https" else 80)

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "https"

    @property
    def authority(self) -> str:
        return urlsplit(self.url).netloc


LOOPBACK = ("127.0.0.1", "::1")


async def dial_local(port: int, hosts: tuple[str, ...] = LOOPBACK) -> asyncio.Transport:
    """A connection to ``port`` on the first of ``hosts`` that accepts (the workspace's
    loopback: IPv4 first, then IPv6), reading nothing until it is joined. Raises StreamError
    saying why none accepted."""
    loop = asyncio.get_running_loop()
    problems: list[str] = []
    for host in hosts:
        try:
            transport, _ = await asyncio.wait_for(
                loop.create_connection(_Held, host, port), DIAL_TIMEOUT
            )
        except TimeoutError:
            problems.append(f"{host} did not accept within {DIAL_TIMEOUT:g} s")
        except ConnectionRefusedError:
            problems.append("refused")
        except OSError as problem:
            problems.append(problem.strerror or str(problem))
        else:
            return transport
    reason = (
        "connection refused" if set(problems) == {"refused"} else "; ".join(dict.fromkeys(problems))
    )
    where = f"port {port}" if hosts == LOOPBACK else f"{', '.join(hosts)} port {port}"
    raise StreamError(f"{where}: {reason}")


async def connect_back(plane: ControlPlane, stream_id: str) -> tuple[asyncio.Transport, bytes]:
    """A connection to the control plane upgraded to stream ``stream_id``, and the bytes that
    came after the control plane's answer."""
    loop = asyncio.get_running_loop()
    reader = _Handshake(loop)
    context = _tls_context() if plane.tls else None
    if plane.unix_socket is not None:
        connect = loop.create_unix_connection(
            lambda: reader,
            plane.unix_socket,
            ssl=context,
            server_hostname=plane.host if context else None,
        )
    else:
        connect = loop.create_connection(lambda: reader, plane.host, plane.port, ssl=context)
    try:
        transport, _ = await asyncio.wait_for(connect, DIAL_TIMEOUT)
    except (OSError, TimeoutError) as problem:
        raise StreamError(f"cannot reach the control plane: {problem}") from None
    transport.write(
        f"GET {STREAM_PATH}{stream_id} HTTP/1.1\r\n"
        f"Host: {plane.authority}\r\n"
        f"Connection: Upgrade\r\nUpgrade: {STREAM_PROTOCOL}\r\n\r\n".encode("ascii")
    )
    try:
        rest = await asyncio.wait_for(reader.answer, DIAL_TIMEOUT)
    except (StreamError, TimeoutError, ConnectionError) as problem:
        transport.abort()
        raise StreamError(f"the control plane did not take the stream: {problem}") from None
    return transport, rest


async def open_stream(plane: ControlPlane, stream_id: str, port: int) -> asyncio.Task[None]:
    """Dial ``port``, connect back, and carry the stream in a task of its own. Raises
    StreamError when either connection fails."""
    local = await dial_local(port)
    try:
        remote, rest = await connect_back(plane, stream_id)
    except StreamError:
        local.abort()
        raise
    return asyncio.get_running_loop().create_task(join(remote, local, (rest, held(local))))


def held(transport: asyncio.Transport) -> bytes:
    """What a connection from ``dial_local`` received before it was taken over: call it when
    taking it over (setting its protocol), so that nothing is lost in between."""
    protocol = transport.get_protocol()
    return protocol.take() if isinstance(protocol, _Held) else b""


class _Held(asyncio.Protocol):
    """A connection that reads nothing until it is joined: what it is sent waits in the
    socket (a server-first protocol's greeting included). uvloop starts reading a new
    connection after ``connection_made`` whatever it said, so the first bytes may be read all
    the same: they are kept (``take``), and reading stops."""

    def __init__(self) -> None:
        self._received = bytearray()
        self._transport: asyncio.ReadTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.ReadTransport, transport)  # uvloop's are not subclasses
        self._transport.pause_reading()

    def data_received(self, data: bytes) -> None:
        self._received += data
        if self._transport is not None:
            self._transport.pause_reading()

    def take(self) -> bytes:
        received, self._received = bytes(self._received), bytearray()
        return received


class _Handshake(asyncio.Protocol):
    """Reads the control plane's answer to a stream upgrade: ``101``, or a reason."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.answer: asyncio.Future[bytes] = loop.create_future()
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        if self.answer.done():
            return
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > _HEAD_LIMIT:
                self.answer.set_exception(StreamError("an answer head too long"))
            return
        head, rest = self._buffer[:end], self._buffer[end + 4 :]
        status = head.split(b"\r\n", 1)[0].split(b" ", 2)
        if len(status) < 2 or status[1] != b"101":
            line = head.split(b"\r\n", 1)[0].decode("latin-1")[:120]
            self.answer.set_exception(StreamError(line or "no status line"))
            return
        assert self._transport is not None
        self._transport.pause_reading()  # join() takes over from here
        self.answer.set_result(rest)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answer.done():
            self.answer.set_exception(StreamError("the connection closed before an answer"))


def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()
