"""The agent's SSH server: each stream the control plane opens to ``SSH_PORT`` becomes one SSH
connection, served by asyncssh on the stream itself (no listening socket anywhere)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from functools import partial

import asyncssh

from templater.agent.ssh.files import FileServer
from templater.agent.ssh.forwarding import listen_host, open_forward
from templater.agent.ssh.host_key import public_key_text
from templater.agent.ssh.sessions import run_session

# AES-GCM only: OpenSSH's client takes the first cipher of its own list that the server has,
# and its list starts with chacha20-poly1305, which costs asyncssh far more CPU per byte than
# AES-GCM (one call into OpenSSL per packet): `ssh -L` runs at a fraction of the speed with it.
_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")
_KEEPALIVE = 30.0
"""Seconds between the server's keepalives: a client that is gone for three is let go."""


class SSHServer:
    """Serves SSH connections over streams with ``host_key``."""

    def __init__(self, host_key: asyncssh.SSHKey) -> None:
        self.public_key = public_key_text(host_key)
        """The host key as the agent reports it in its hello."""
        self._connections: set[asyncssh.SSHServerConnection] = set()
        self._options = asyncssh.SSHServerConnectionOptions(
            server_factory=partial(_Handler, self._connections),
            server_host_keys=[host_key],
            encryption_algs=list(_CIPHERS),
            process_factory=run_session,
            sftp_factory=FileServer,
            encoding=None,
            line_editor=False,
            x11_forwarding=False,
            agent_forwarding=False,
            keepalive_interval=_KEEPALIVE,
        )

    def serve(self, transport: asyncio.Transport, received: bytes) -> None:
        """Run an SSH connection on a stream's ``transport`` (read nothing from yet), the client
        having sent ``received`` already."""
        connection = asyncssh.SSHServerConnection(asyncio.get_running_loop(), self._options)
        transport.set_protocol(connection)
        connection.connection_made(transport)
        if received:
            connection.data_received(received)
        transport.resume_reading()

    async def close(self) -> None:
        """End every connection (the agent is stopping)."""
        for connection in list(self._connections):
            connection.close()
        for connection in list(self._connections):
            with contextlib.suppress(Exception):
                await connection.wait_closed()


class _Handler(asyncssh.SSHServer):
    """One connection's decisions: who is let in (anyone the control plane let through), where
    forwards go; ``open`` holds the connections open now."""

    def __init__(self, open: set[asyncssh.SSHServerConnection]) -> None:
        self._open = open

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._open.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        self._open.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        return False  # no authentication: the control plane decided who may open the stream

    def connection_requested(
        self, dest_host: str, dest_port: int, orig_host: str, orig_port: int
    ) -> Awaitable[asyncssh.SSHTCPSession[bytes]]:
        return open_forward(dest_host, dest_port)

    def server_requested(
        self, listen_host_: str, listen_port: int
    ) -> Awaitable[asyncssh.SSHListener]:
        return self._conn.forward_local_port(
            listen_host(listen_host_), listen_port, listen_host_, listen_port
        )
