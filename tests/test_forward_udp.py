"""A UDP forward's client addresses without a server (SPEC §9): each gets a stream of its own,
datagrams framed one per message both ways, and the stream ends once the address goes quiet.
The workspace's end of each stream is one end of a socket pair here."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from templater.forwarding import udp
from templater.forwarding.udp import UdpForward
from templater.model.forwarding import PortForward
from templater.relay.datagrams import frame

DEADLINE = 60.0


class _Workspace:
    """Stands in for AgentPorts: every stream opened is a socket pair, its far end kept."""

    name = "dev.main"

    def __init__(self) -> None:
        self.far_ends: asyncio.Queue[socket.socket] = asyncio.Queue()

    async def open(self, protocol: str, port: int) -> tuple[asyncio.Transport, bytes]:
        near, far = socket.socketpair()
        transport, _ = await asyncio.get_running_loop().connect_accepted_socket(
            asyncio.Protocol, near
        )
        transport.pause_reading()
        far.setblocking(False)
        await self.far_ends.put(far)
        return transport, b""


async def _read(far: socket.socket, size: int) -> bytes:
    loop = asyncio.get_running_loop()
    received = b""
    while len(received) < size:
        more = await asyncio.wait_for(loop.sock_recv(far, 65536), DEADLINE)
        if not more:
            break
        received += more
    return received


def test_each_client_address_has_its_stream_and_a_quiet_one_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(udp, "IDLE_TIMEOUT", 0.2)
    asyncio.run(_scenario())


async def _scenario() -> None:
    loop = asyncio.get_running_loop()
    workspace = _Workspace()
    forward = UdpForward(workspace, PortForward("udp", None, 1, 5353), print)
    listener, _ = await loop.create_datagram_endpoint(forward.protocol, local_addr=("127.0.0.1", 0))
    address: Any = listener.get_extra_info("sockname")
    clients = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
    try:
        for number, client in enumerate(clients):
            client.setblocking(False)
            client.sendto(b"hello %d" % number, address)
            far = await asyncio.wait_for(workspace.far_ends.get(), DEADLINE)
            assert await _read(far, 9) == frame(b"hello %d" % number)
            far.sendall(frame(b"back %d" % number))
            answer = await asyncio.wait_for(loop.sock_recv(client, 65535), DEADLINE)
            assert answer == b"back %d" % number
            # Quiet for longer than the idle timeout: the stream ends (its far end reads EOF).
            assert await _read(far, 1) == b""
            far.close()
    finally:
        listener.close()
        for client in clients:
            client.close()
