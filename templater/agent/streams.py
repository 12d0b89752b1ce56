"""Streams from the workspace side (SPEC §11): dial ``localhost:PORT`` first, so that a refusal
is reported as such, then connect back to the control plane, upgrade the connection to a
stream and join the two. Nothing the local port sends is lost: its bytes wait (in the socket,
or kept by ``relay.joining.Held``) until the stream is joined. A UDP stream (SPEC §9) relays datagrams to and from a UDP port."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

from templater.model.agent_messages import STREAM_PATH, STREAM_PROTOCOL
from templater.relay.datagrams import carry
from templater.relay.joining import Held, join
from templater.relay.upgrade import ControlPlane, UpgradeFailed, upgrade

DIAL_TIMEOUT = 10.0
"""How long the agent waits for a local port, or for the control plane, to accept."""


class StreamError(Exception):
    """A stream that could not be opened, with the reason the control plane is told."""


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
                loop.create_connection(Held, host, port), DIAL_TIMEOUT
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


def held(transport: asyncio.Transport) -> bytes:
    """What a connection from ``dial_local`` received before it was taken over by other than
    ``join`` (an SSH channel): call it when taking it over, so that nothing is lost between."""
    protocol = transport.get_protocol()
    if not isinstance(protocol, Held):
        return b""
    early, protocol.early = protocol.early, b""
    return early


async def connect_back(plane: ControlPlane, stream_id: str) -> tuple[asyncio.Transport, bytes]:
    """A connection to the control plane upgraded to stream ``stream_id``, and the bytes that
    came after the control plane's answer."""
    try:
        return await upgrade(plane, f"{STREAM_PATH}{stream_id}", STREAM_PROTOCOL)
    except UpgradeFailed as problem:
        raise StreamError(f"the control plane did not take the stream: {problem}") from None


async def open_stream(plane: ControlPlane, stream_id: str, port: int) -> asyncio.Task[None]:
    """Dial ``port``, connect back, and carry the stream in a task of its own. Raises
    StreamError when either connection fails."""
    local = await dial_local(port)
    try:
        remote, rest = await connect_back(plane, stream_id)
    except StreamError:
        local.abort()
        raise
    return asyncio.get_running_loop().create_task(join(remote, local, (rest, b"")))


async def open_datagram_stream(
    plane: ControlPlane, stream_id: str, port: int
) -> asyncio.Task[None]:
    """Connect back, and relay the stream's datagrams to and from UDP ``port`` on the
    workspace's loopback, in a task of its own, until the stream ends. Raises StreamError when
    the control plane does not take the stream."""
    loop = asyncio.get_running_loop()
    try:
        socket_side, _ = await loop.create_datagram_endpoint(
            _Datagrams, remote_addr=("127.0.0.1", port)
        )
    except OSError as problem:
        raise StreamError(f"UDP port {port}: {problem.strerror or problem}") from None
    local = cast(_Datagrams, socket_side.get_protocol())
    try:
        remote, rest = await connect_back(plane, stream_id)
    except StreamError:
        socket_side.close()
        raise
    ended: asyncio.Future[None] = loop.create_future()

    def end() -> None:
        if not ended.done():
            ended.set_result(None)

    stream = carry(remote, rest, socket_side.sendto, end)
    local.received = stream.send

    async def relay() -> None:
        try:
            await ended
        finally:
            stream.close()
            socket_side.close()

    return loop.create_task(relay())


class _Datagrams(asyncio.DatagramProtocol):
    """The workspace side of a UDP stream: what the port answers goes to ``received``; an
    unreachable port (ICMP) is only a datagram lost, as UDP has it."""

    def __init__(self) -> None:
        self.received: Callable[[bytes], None] = lambda datagram: None

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.received(data)

    def error_received(self, exc: Exception) -> None:
        pass
