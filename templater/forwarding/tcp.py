"""A TCP forward (SPEC §9): every connection accepted on its listeners is one stream to the
port in the workspace, joined to it with half-close passed on. The connection reads nothing
until its stream is there, and the stream's first bytes (a server-first protocol's greeting)
are written to it first."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

from templater.forwarding.notice import Notice
from templater.forwarding.remote import StreamRefused, Streams
from templater.model.forwarding import PortForward
from templater.relay.joining import Held, join


class TcpForward:
    """The connections of one forward's listeners; ``say`` tells the user of a problem, once
    until a connection gets through again."""

    def __init__(self, ports: Streams, forward: PortForward, say: Callable[[str], None]):
        self._ports = ports
        self._forward = forward
        self._notice = Notice(say)
        self._carried: set[asyncio.Task[None]] = set()

    def protocol(self) -> asyncio.Protocol:
        """The protocol of a connection its listeners accept."""
        return _Accepted(self)

    def accepted(self, local: asyncio.Transport) -> None:
        task = asyncio.get_running_loop().create_task(self._carry(local))
        self._carried.add(task)
        task.add_done_callback(self._carried.discard)

    async def _carry(self, local: asyncio.Transport) -> None:
        port = self._forward.remote_port
        try:
            remote, early = await self._ports.open("tcp", port)
        except StreamRefused as problem:
            local.close()
            self._notice.failed(f"{self._ports.name}:{port} (tcp): {problem}; connection closed")
            return
        self._notice.worked()
        await join(local, remote, (b"", early))


class _Accepted(Held):
    def __init__(self, forward: TcpForward) -> None:
        super().__init__()
        self._forward = forward

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._forward.accepted(cast(asyncio.Transport, transport))  # uvloop's: no subclasses
