"""The agent's side of a stream, on real loopback sockets: dial the port first, connect back,
join; half-close passes through; a server-first greeting is not lost; bulk bytes arrive whole past a slow reader; a reset
on one side closes the other; a refused port says so."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from templater.agent.streams import StreamError, dial_local, open_stream
from templater.model.agent_messages import STREAM_PATH
from templater.relay.upgrade import ControlPlane

Accepted = asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _fake_plane(
    accepted: Accepted,
    answer: bytes = b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
) -> asyncio.Server:
    """A control plane that answers a stream's upgrade and hands over the connection."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        await accepted.put((reader, writer, head))

    return await asyncio.start_server(serve, "127.0.0.1", 0)


def _plane(server: asyncio.Server) -> ControlPlane:
    port = server.sockets[0].getsockname()[1]
    return ControlPlane(f"http://127.0.0.1:{port}")


AppHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class _Joined:
    """A stream the agent side opened to an app, seen from the control plane's end."""

    task: asyncio.Task[None]
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    head: bytes
    """The agent's upgrade request."""


@contextlib.asynccontextmanager
async def _stream_to(app: AppHandler) -> AsyncIterator[_Joined]:
    """``open_stream`` to an app served by ``app``, through a fake control plane; both servers
    closed afterwards."""
    app_server = await asyncio.start_server(app, "127.0.0.1", 0)
    accepted: Accepted = asyncio.Queue()
    plane_server = await _fake_plane(accepted)
    try:
        task = await open_stream(
            _plane(plane_server), "0.secret", app_server.sockets[0].getsockname()[1]
        )
        reader, writer, head = await asyncio.wait_for(accepted.get(), 10)
        yield _Joined(task, reader, writer, head)
        writer.close()
    finally:
        app_server.close()
        plane_server.close()


def test_a_refused_port_is_named_without_connecting_back() -> None:
    async def scenario() -> None:
        with pytest.raises(StreamError, match=r"port \d+: connection refused"):
            await dial_local(_free_port())

    asyncio.run(scenario())


def test_bytes_pass_both_ways_with_half_close_and_the_greeting_first() -> None:
    async def scenario() -> None:
        async def app(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"220 greeting\r\n")  # a server-first protocol speaks before asked
            await writer.drain()
            received = await reader.read()  # until the client's half-close
            writer.write(b"got " + received)
            writer.close()

        # The greeting waits in the socket while the agent connects back.
        async with _stream_to(app) as joined:
            assert joined.head.startswith(f"GET {STREAM_PATH}0.secret HTTP/1.1\r\n".encode())
            assert b"Upgrade: templater-stream" in joined.head
            greeting = await asyncio.wait_for(joined.reader.readexactly(14), 10)
            assert greeting == b"220 greeting\r\n"
            joined.writer.write(b"hello")
            joined.writer.write_eof()
            assert await asyncio.wait_for(joined.reader.read(), 10) == b"got hello"
            await asyncio.wait_for(joined.task, 10)

    asyncio.run(scenario())


def test_a_control_plane_that_refuses_the_stream_is_an_error_and_the_port_is_let_go() -> None:
    async def scenario() -> None:
        closed = asyncio.Event()

        async def app(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read()
            closed.set()

        app_server = await asyncio.start_server(app, "127.0.0.1", 0)
        app_port = app_server.sockets[0].getsockname()[1]
        accepted: Accepted = asyncio.Queue()
        plane_server = await _fake_plane(accepted, b"HTTP/1.1 400 Bad Request\r\n\r\n")
        with pytest.raises(StreamError, match="400 Bad Request"):
            await open_stream(_plane(plane_server), "0.secret", app_port)
        await asyncio.wait_for(closed.wait(), 10)
        app_server.close()
        plane_server.close()

    asyncio.run(scenario())


def test_bulk_bytes_arrive_whole_both_ways_past_a_slow_reader() -> None:
    size = 24 * 1024 * 1024
    outgoing = hashlib.sha256()
    pattern = bytes(range(256)) * 256  # 64 KiB

    async def app(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def send() -> None:
            for _ in range(size // len(pattern)):
                writer.write(pattern)
                await writer.drain()
            writer.write_eof()

        sender = asyncio.create_task(send())
        received = hashlib.sha256()
        while chunk := await reader.read(1 << 16):
            received.update(chunk)
        await sender
        writer.close()
        digests.put_nowait(received.hexdigest())

    async def scenario() -> None:
        async with _stream_to(app) as joined:

            async def send() -> None:
                for index in range(size // len(pattern)):
                    piece = struct.pack(">I", index) + pattern[4:]
                    outgoing.update(piece)
                    joined.writer.write(piece)
                    await joined.writer.drain()
                joined.writer.write_eof()

            sender = asyncio.create_task(send())
            got, received = 0, hashlib.sha256()
            while chunk := await asyncio.wait_for(joined.reader.read(4096), 30):
                received.update(chunk)
                got += len(chunk)
                if got < 1024 * 1024:  # a slow reader at first: the app must be held back
                    await asyncio.sleep(0.001)
            await asyncio.wait_for(sender, 30)
            assert got == size
            expected = hashlib.sha256(pattern * (size // len(pattern))).hexdigest()
            assert received.hexdigest() == expected
            assert await asyncio.wait_for(digests.get(), 30) == outgoing.hexdigest()
            await asyncio.wait_for(joined.task, 10)

    digests: asyncio.Queue[str] = asyncio.Queue()
    asyncio.run(scenario())


def test_a_reset_on_the_app_side_closes_the_control_planes_side() -> None:
    async def app(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(5)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # a reset, not an orderly close

    async def scenario() -> None:
        async with _stream_to(app) as joined:
            joined.writer.write(b"hello")
            assert await asyncio.wait_for(joined.reader.read(), 10) == b""
            await asyncio.wait_for(joined.task, 10)

    asyncio.run(scenario())
