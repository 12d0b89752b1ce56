"""Streams from the workspace side (SPEC §11): dial ``localhost:PORT`` first, so that a refusal
is reported as such, then connect back to the control plane, upgrade the connection to a
stream and join the two. Nothing the local port sends is lost: its bytes wait in the socket
until the stream is joined."""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from templater.agent import splicing
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


async def dial_local(port: int) -> socket.socket:
    """A connection to ``port`` on the workspace's loopback: IPv4 first, then IPv6. Raises
    StreamError saying why neither accepted. Nothing is read from it: what the port sends first
    (a server-first protocol's greeting) waits in the socket until the stream is joined."""
    loop = asyncio.get_running_loop()
    problems: list[str] = []
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        sock = _stream_socket(family)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, (host, port)), DIAL_TIMEOUT)
        except TimeoutError:
            problems.append(f"{host} did not accept within {DIAL_TIMEOUT:g} s")
        except ConnectionRefusedError:
            problems.append("refused")
        except OSError as problem:
            problems.append(problem.strerror or str(problem))
        else:
            return sock
        sock.close()
    reason = (
        "connection refused"
        if problems == ["refused", "refused"]
        else "; ".join(dict.fromkeys(problems))
    )
    raise StreamError(f"port {port}: {reason}")


def _stream_socket(family: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    if family != socket.AF_UNIX:  # small request/response exchanges must not wait for Nagle
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


async def connect_back(
    plane: ControlPlane, stream_id: str
) -> tuple[socket.socket | asyncio.Transport, bytes]:
    """A connection to the control plane upgraded to stream ``stream_id``, and the bytes that
    came after the control plane's answer: a plain socket, or a transport when it is TLS."""
    request = (
        f"GET {STREAM_PATH}{stream_id} HTTP/1.1\r\n"
        f"Host: {plane.authority}\r\n"
        f"Connection: Upgrade\r\nUpgrade: {STREAM_PROTOCOL}\r\n\r\n"
    ).encode("ascii")
    connection = _connect_tls if plane.tls else _connect_plain
    try:
        return await asyncio.wait_for(connection(plane, request), DIAL_TIMEOUT)
    except StreamError:
        raise
    except (OSError, TimeoutError) as problem:
        reason = str(problem) or f"no answer within {DIAL_TIMEOUT:g} s"
        raise StreamError(f"cannot reach the control plane: {reason}") from None


async def _connect_plain(plane: ControlPlane, request: bytes) -> tuple[socket.socket, bytes]:
    loop = asyncio.get_running_loop()
    sock = await _dial_plane(plane)
    try:
        await loop.sock_sendall(sock, request)
        buffer = b""
        while (rest := _upgraded(buffer)) is None:
            more = await loop.sock_recv(sock, 65536)
            if not more:
                raise StreamError(
                    "the control plane did not take the stream: "
                    "the connection closed before an answer"
                )
            buffer += more
    except BaseException:
        sock.close()
        raise
    return sock, rest


async def _dial_plane(plane: ControlPlane) -> socket.socket:
    """A connection to the control plane's Unix socket, or to the first of its host's addresses
    that accepts."""
    loop = asyncio.get_running_loop()
    if plane.unix_socket is not None:
        targets: list[tuple[int, Any]] = [(socket.AF_UNIX, plane.unix_socket)]
    else:
        found = await loop.getaddrinfo(plane.host, plane.port, type=socket.SOCK_STREAM)
        targets = [(family, address) for family, _, _, _, address in found]
    problem: OSError = OSError(f"no address for {plane.host}")
    for family, address in targets:
        sock = _stream_socket(family)
        try:
            await loop.sock_connect(sock, address)
        except OSError as refused:
            sock.close()
            problem = refused
        else:
            return sock
    raise problem


async def _connect_tls(plane: ControlPlane, request: bytes) -> tuple[asyncio.Transport, bytes]:
    loop = asyncio.get_running_loop()
    reader = _Handshake(loop)
    if plane.unix_socket is not None:
        transport, _ = await loop.create_unix_connection(
            lambda: reader, plane.unix_socket, ssl=_tls_context(), server_hostname=plane.host
        )
    else:
        transport, _ = await loop.create_connection(
            lambda: reader, plane.host, plane.port, ssl=_tls_context()
        )
    transport.write(request)
    try:
        return transport, await reader.answer
    except BaseException:
        transport.abort()
        raise


def _upgraded(buffer: bytes) -> bytes | None:
    """What follows the control plane's ``101`` answer in ``buffer``; None while the answer is
    incomplete. Raises StreamError for any other answer."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > _HEAD_LIMIT:
            raise StreamError("the control plane did not take the stream: an answer head too long")
        return None
    status_line = buffer[:end].split(b"\r\n", 1)[0]
    status = status_line.split(b" ", 2)
    if len(status) < 2 or status[1] != b"101":
        line = status_line.decode("latin-1")[:120]
        raise StreamError(f"the control plane did not take the stream: {line or 'no status line'}")
    return buffer[end + 4 :]


async def open_stream(plane: ControlPlane, stream_id: str, port: int) -> asyncio.Task[None]:
    """Dial ``port``, connect back, and carry the stream in a task of its own: joined in the
    kernel when both ends are plain sockets. Raises StreamError when either connection fails."""
    local = await dial_local(port)
    try:
        remote, rest = await connect_back(plane, stream_id)
    except StreamError:
        local.close()
        raise
    loop = asyncio.get_running_loop()
    if isinstance(remote, socket.socket) and splicing.AVAILABLE:
        return loop.create_task(splicing.splice_join(remote, local, (rest, b"")))
    if isinstance(remote, socket.socket):
        remote, _ = await loop.create_connection(_Held, sock=remote)
    local_transport, _ = await loop.create_connection(_Held, sock=local)
    return loop.create_task(join(remote, local_transport, (rest, b"")))


class _Held(asyncio.Protocol):
    """A connection that reads nothing until it is joined: what it is sent waits in the
    socket (a server-first protocol's greeting included)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.ReadTransport, transport)  # uvloop's are not subclasses
        transport.pause_reading()


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
        try:
            rest = _upgraded(self._buffer)
        except StreamError as problem:
            self.answer.set_exception(problem)
            return
        if rest is not None:
            assert self._transport is not None
            self._transport.pause_reading()  # join() takes over from here
            self.answer.set_result(rest)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answer.done():
            self.answer.set_exception(
                StreamError(
                    "the control plane did not take the stream: "
                    "the connection closed before an answer"
                )
            )


def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()
