"""The floor of a Python proxy, for ``proxy_bench.py``: bytes piped between each client
connection and a connection of its own to the upstream, on uvloop, with no HTTP parsing at all;
one process per CPU on one port (SO_REUSEPORT), as ``templater server`` runs.

Usage: ``python bench/byte_pipe.py LISTEN_PORT UPSTREAM_PORT``; runs until SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import cast


class _Upstream(asyncio.Protocol):
    def __init__(self, client: _Client) -> None:
        self._client = client

    def data_received(self, data: bytes) -> None:
        self._client.send(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._client.close()


class _Client(asyncio.Protocol):
    def __init__(self, upstream_port: int) -> None:
        self._upstream_port = upstream_port
        self._transport: asyncio.Transport | None = None
        self._upstream: asyncio.Transport | None = None
        self._early: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_connection(
            lambda: _Upstream(self), "127.0.0.1", self._upstream_port
        )
        self._upstream = transport
        for data in self._early:
            self._upstream.write(data)

    def data_received(self, data: bytes) -> None:
        if self._upstream is None:
            self._early.append(data)
        else:
            self._upstream.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._upstream is not None:
            self._upstream.close()

    def send(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def _serve(port: int, upstream_port: int) -> None:
    loop = asyncio.get_running_loop()
    await loop.create_server(lambda: _Client(upstream_port), "127.0.0.1", port, reuse_port=True)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()


def main() -> None:
    import uvloop

    port, upstream_port = int(sys.argv[1]), int(sys.argv[2])
    children = []
    for _ in range((os.cpu_count() or 1) - 1):
        child = os.fork()
        if child == 0:
            uvloop.run(_serve(port, upstream_port))
            os._exit(0)
        children.append(child)
    try:
        uvloop.run(_serve(port, upstream_port))
    finally:
        for child in children:
            os.kill(child, signal.SIGTERM)
            os.waitpid(child, 0)


if __name__ == "__main__":
    main()
