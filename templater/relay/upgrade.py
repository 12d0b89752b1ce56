"""A connection to the control plane upgraded (HTTP/1.1 ``101``) to carry raw bytes: how the
agent connects back with a stream, and how ``templater port-forward`` asks for one."""

from __future__ import annotations

import asyncio
import json
import ssl
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

CONNECT_TIMEOUT = 10.0
"""How long the control plane may take to accept a connection, and to answer an upgrade."""
_HEAD_LIMIT = 16 * 1024
_BODY_LIMIT = 16 * 1024


class UpgradeFailed(Exception):
    """The control plane could not be reached, or answered the upgrade with a refusal:
    ``status`` is its HTTP status (None when there was no answer), the message says why."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class ControlPlane:
    """Where the control plane is reached: its URL, and a Unix socket that stands for its host
    and port when given (a reverse proxy's, or the server's own)."""

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


async def upgrade(
    plane: ControlPlane, target: str, protocol: str, headers: dict[str, str] | None = None
) -> tuple[asyncio.Transport, bytes]:
    """A connection to the control plane whose request for ``target`` was upgraded to
    ``protocol``, its reading paused, and the bytes that came after the ``101``. Raises
    UpgradeFailed."""
    loop = asyncio.get_running_loop()
    reader = _Handshake(loop)
    context = ssl.create_default_context() if plane.tls else None
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
        transport, _ = await asyncio.wait_for(connect, CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as problem:
        raise UpgradeFailed(f"cannot reach the control plane at {plane.url}: {problem}") from None
    lines = [f"GET {target} HTTP/1.1", f"Host: {plane.authority}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    lines += ["Connection: Upgrade", f"Upgrade: {protocol}", "", ""]
    transport.write("\r\n".join(lines).encode("latin-1"))
    try:
        rest = await asyncio.wait_for(reader.answer, CONNECT_TIMEOUT)
    except TimeoutError:
        transport.abort()
        raise UpgradeFailed(
            f"the control plane did not answer within {CONNECT_TIMEOUT:g} s"
        ) from None
    except BaseException:  # a refusal, or the caller gave up waiting
        transport.abort()
        raise
    return transport, rest


class _Handshake(asyncio.Protocol):
    """Reads the control plane's answer to an upgrade: ``101``, or a refusal with its reason
    (the ``message`` of a JSON body, or the status line)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.answer: asyncio.Future[bytes] = loop.create_future()
        self._buffer = b""
        self._refusal: tuple[int, str, int] | None = None
        """A refusal's status, status line and body length, while its body arrives."""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        if self.answer.done():
            return
        self._buffer += data
        if self._refusal is not None:
            self._refused_body()
            return
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > _HEAD_LIMIT:
                self.answer.set_exception(UpgradeFailed("an answer head too long"))
            return
        head, self._buffer = self._buffer[:end], self._buffer[end + 4 :]
        line = head.split(b"\r\n", 1)[0]
        status = line.split(b" ", 2)
        if len(status) >= 2 and status[1] == b"101":
            assert self._transport is not None
            self._transport.pause_reading()  # whoever takes the connection reads on
            self.answer.set_result(self._buffer)
            return
        code = int(status[1]) if len(status) >= 2 and status[1].isdigit() else 0
        length = 0
        for field in head.split(b"\r\n")[1:]:
            name, _, value = field.partition(b":")
            if name.strip().lower() == b"content-length" and value.strip().isdigit():
                length = min(int(value), _BODY_LIMIT)
        self._refusal = (code, line.decode("latin-1")[:120] or "no status line", length)
        self._refused_body()

    def _refused_body(self) -> None:
        assert self._refusal is not None
        code, line, length = self._refusal
        if len(self._buffer) < length:
            return
        self.answer.set_exception(UpgradeFailed(_reason(self._buffer[:length], line), code or None))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.answer.done():
            return
        if self._refusal is not None:
            code, line, _ = self._refusal
            self.answer.set_exception(UpgradeFailed(_reason(self._buffer, line), code or None))
        else:
            self.answer.set_exception(UpgradeFailed("the connection closed before an answer"))


def _reason(body: bytes, line: str) -> str:
    """The ``message`` of the API's JSON error, else the status line."""
    try:
        found = json.loads(body)["message"]
    except (ValueError, KeyError, TypeError):
        return line
    return str(found)[:500] if isinstance(found, str) else line
