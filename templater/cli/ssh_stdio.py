"""``templater ssh --stdio WORKSPACE[.AGENT]``: OpenSSH's ProxyCommand. It opens the SSH route
on the control plane (``templater.model.ssh``) with the saved credentials, then carries bytes
between its stdin and stdout and that connection until the connection ends.

It runs once per ``ssh``, so it imports little (no HTTP client, no asyncio): one thread, one
``select`` loop, plain sockets, TLS only for an https URL."""

from __future__ import annotations

import contextlib
import os
import select
import socket
import sys
from typing import TYPE_CHECKING

from templater.model.ssh import SSH_PROTOCOL, BadTarget, parse_target, ssh_path
from templater.provisioning.credentials import NotSignedIn, load_credentials

if TYPE_CHECKING:
    import ssl

CONNECT_TIMEOUT = 10.0
"""Seconds to reach the control plane and have its answer (the agent's stream included)."""
_CHUNK = 256 * 1024
_HEAD_LIMIT = 16 * 1024


class Refused(Exception):
    """The control plane did not open the connection: the reason, for a person."""


def run_stdio(target: str) -> int:
    """The exit status: 0 when the connection ended, 1 when it could not be opened."""
    try:
        owner, workspace, agent = parse_target(target)
        credentials = load_credentials()
        connection, received = open_connection(
            credentials.url, credentials.token, ssh_path(owner, workspace, agent)
        )
    except (BadTarget, NotSignedIn, Refused) as problem:
        print(f"templater: {problem}", file=sys.stderr)
        return 1
    try:
        relay(connection, received)
    except OSError as problem:  # the connection broke: ssh says so in its own words too
        print(f"templater: the SSH connection broke: {problem}", file=sys.stderr)
        return 1
    finally:
        connection.close()
    return 0


def open_connection(url: str, token: str, path: str) -> tuple[socket.socket, bytes]:
    """A connection to ``url``'s control plane upgraded at ``path``, and the bytes that came
    after its ``101``."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "localhost", parts.port
    except ValueError as problem:
        raise Refused(f"{url} is not a URL: {problem}") from None
    tls = parts.scheme == "https"
    try:
        connection = socket.create_connection((host, port or (443 if tls else 80)), CONNECT_TIMEOUT)
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            connection = _tls(connection, host)
        connection.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n"
            f"Connection: Upgrade\r\nUpgrade: {SSH_PROTOCOL}\r\n\r\n".encode("latin-1")
        )
        head, rest = _answer(connection)
    except (OSError, UnicodeError) as problem:
        raise Refused(f"cannot reach {url}: {problem}") from None
    status_line, _, fields = head.partition(b"\r\n")
    status = status_line.split(b" ", 2)
    if len(status) >= 2 and status[1] == b"101":
        connection.settimeout(None)
        return connection, rest
    raise Refused(_refusal(url, status_line, fields, rest))


def relay(connection: socket.socket, received: bytes) -> None:
    """stdin to ``connection`` and ``connection`` (after ``received``) to stdout, each way at
    its own pace, until the connection ends; stdin's end is passed on as a half-close (but over
    TLS, which Python's ssl cannot half-close: ssh is done with it then, and the server ends it
    when the SSH connection ends)."""
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    blocking = os.get_blocking(stdin), os.get_blocking(stdout)
    os.set_blocking(stdin, False)
    os.set_blocking(stdout, False)
    connection.setblocking(False)
    tls = hasattr(connection, "pending")
    wait_errors = _wait_errors(tls)
    outgoing, incoming = bytearray(), bytearray(received)
    reading_stdin = reading_connection = writing_connection = True
    try:
        while reading_connection or incoming:
            readable: list[int | socket.socket] = []
            writable: list[int | socket.socket] = []
            if reading_stdin and len(outgoing) < _CHUNK:
                readable.append(stdin)
            if reading_connection and len(incoming) < _CHUNK:
                readable.append(connection)
            if outgoing:
                writable.append(connection)
            if incoming:
                writable.append(stdout)
            pending = tls and reading_connection and connection.pending() > 0  # type: ignore[attr-defined]
            ready_read, ready_write, _ = select.select(
                readable, writable, [], 0 if pending else None
            )
            if stdin in ready_read:
                data = os.read(stdin, _CHUNK)
                if data:
                    outgoing += data
                else:
                    reading_stdin = False
            if connection in ready_write:
                with contextlib.suppress(*wait_errors):
                    del outgoing[: connection.send(outgoing)]
            if not reading_stdin and not outgoing and writing_connection:
                writing_connection = False
                if not tls:  # an SSLSocket's shutdown drops TLS: the server's close ends it
                    _half_close(connection)
            if connection in ready_read or pending:
                with contextlib.suppress(*wait_errors):
                    data = connection.recv(_CHUNK)
                    incoming += data
                    reading_connection = bool(data)
            if stdout in ready_write:
                try:
                    del incoming[: os.write(stdout, incoming)]
                except BlockingIOError:
                    pass
                except BrokenPipeError:  # ssh is done with the connection
                    return
    finally:
        os.set_blocking(stdin, blocking[0])
        os.set_blocking(stdout, blocking[1])


def _half_close(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):  # closed already: reading finds out
        connection.shutdown(socket.SHUT_WR)


def _answer(connection: socket.socket) -> tuple[bytes, bytes]:
    """The answer's head and what came after it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(4096)
        if not chunk:
            raise ConnectionError("the control plane closed the connection without an answer")
        data += chunk
        if len(data) > _HEAD_LIMIT:
            raise ConnectionError("the control plane's answer has a head too long")
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _refusal(url: str, status_line: bytes, fields: bytes, body: bytes) -> str:
    """What a refusal says: the API's message when it sent one, else its status line."""
    import json

    status = status_line.decode("latin-1", "replace")[:100]
    if b"application/json" in fields.lower():
        try:
            return f"{json.loads(body)['message']} ({status.partition(' ')[2]})"
        except (ValueError, KeyError, TypeError):
            pass
    return f"{url} did not open SSH: {status}"


def _tls(connection: socket.socket, host: str) -> ssl.SSLSocket:
    import ssl

    return ssl.create_default_context().wrap_socket(connection, server_hostname=host)


def _wait_errors(tls: bool) -> tuple[type[OSError], ...]:
    """What a non-blocking send or receive raises when it has to wait."""
    if not tls:
        return (BlockingIOError,)
    import ssl

    return (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)
