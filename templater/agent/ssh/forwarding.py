"""TCP forwarding through the agent's SSH server: ``direct-tcpip`` (``ssh -L``) and
``tcpip-forward`` (``ssh -R``).

``ssh -L``: the destination is dialled before the channel is accepted, and read only once the
channel is open. asyncssh's own forwarding (``connection_requested`` returning True) dials after
accepting and drops what the destination sends before the channel is open, so a server that
speaks first (SSH, SMTP, MySQL) would lose its greeting (SPEC §10); here it waits in the socket.
A destination that refuses fails the channel with the reason, as OpenSSH's server does.
"""

from __future__ import annotations

import asyncio

import asyncssh

from templater.agent.streams import LOOPBACK, StreamError, dial_local, held

_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "ip6-localhost"})


async def open_forward(host: str, port: int) -> asyncssh.SSHTCPSession[bytes]:
    """The session of a ``direct-tcpip`` channel to ``host:port``, dialled from the workspace;
    raises ChannelOpenError when it cannot be reached."""
    hosts = LOOPBACK if host.lower() in _LOOPBACK_NAMES else (host,)
    try:
        transport = await dial_local(port, hosts)
    except StreamError as problem:
        raise asyncssh.ChannelOpenError(asyncssh.OPEN_CONNECT_FAILED, str(problem)) from None
    return _Channel(transport)


def listen_host(requested: str) -> str:
    """Where an ``ssh -R`` listener binds: the loopback, whatever the client asked for (what
    OpenSSH's server does by default, ``GatewayPorts no``): a forward is for the workspace's own
    processes, never for its network."""
    return requested if requested.lower() in _LOOPBACK_NAMES else "localhost"


class _Channel(asyncssh.SSHTCPSession[bytes]):
    """The channel's side of one forwarded connection; ``_Socket`` is the destination's."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport

    def connection_made(self, chan: asyncssh.SSHTCPChannel[bytes]) -> None:
        early = held(self._transport)
        self._transport.set_protocol(_Socket(chan))
        if early:
            chan.write(early)
        self._transport.resume_reading()  # the destination's first bytes, held until now

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        self._transport.write(data)

    def eof_received(self) -> bool:
        if self._transport.can_write_eof():
            self._transport.write_eof()
            return True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport.close()

    def pause_writing(self) -> None:
        self._transport.pause_reading()

    def resume_writing(self) -> None:
        self._transport.resume_reading()


class _Socket(asyncio.Protocol):
    def __init__(self, chan: asyncssh.SSHTCPChannel[bytes]) -> None:
        self._channel = chan

    def data_received(self, data: bytes) -> None:
        self._channel.write(data)

    def eof_received(self) -> bool:
        self._channel.write_eof()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self._channel.close()

    def pause_writing(self) -> None:
        self._channel.pause_reading()

    def resume_writing(self) -> None:
        self._channel.resume_reading()
