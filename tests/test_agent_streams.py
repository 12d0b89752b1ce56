"""The agent's side of a stream, on real loopback sockets: dial the port first, connect back,
join; half-close passes through; a server-first greeting is not lost; a refused port says so."""

from __future__ import annotations

import asyncio
import socket

import pytest

from templater.agent.streams import ControlPlane, StreamError, dial_local, open_stream
from templater.model.agent_messages import STREAM_PATH


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _fake_plane(
    accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]],
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

        app_server = await asyncio.start_server(app, "127.0.0.1", 0)
        app_port = app_server.sockets[0].getsockname()[1]
        accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]] = (
            asyncio.Queue()
        )
        plane_server = await _fake_plane(accepted)
        # The greeting waits in the socket while the agent connects back: give it time to land.
        stream = await open_stream(_plane(plane_server), "0.secret", app_port)
        reader, writer, head = await asyncio.wait_for(accepted.get(), 10)
        assert head.startswith(f"GET {STREAM_PATH}0.secret HTTP/1.1\r\n".encode())
        assert b"Upgrade: templater-stream" in head
        assert await asyncio.wait_for(reader.readexactly(14), 10) == b"220 greeting\r\n"
        writer.write(b"hello")
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), 10) == b"got hello"
        await asyncio.wait_for(stream, 10)
        writer.close()
        app_server.close()
        plane_server.close()

    asyncio.run(scenario())


def test_a_control_plane_that_refuses_the_stream_is_an_error_and_the_port_is_let_go() -> None:
    async def scenario() -> None:
        closed = asyncio.Event()

        async def app(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read()
            closed.set()

        app_server = await asyncio.start_server(app, "127.0.0.1", 0)
        app_port = app_server.sockets[0].getsockname()[1]
        accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]] = (
            asyncio.Queue()
        )
        plane_server = await _fake_plane(accepted, b"HTTP/1.1 400 Bad Request\r\n\r\n")
        with pytest.raises(StreamError, match="400 Bad Request"):
            await open_stream(_plane(plane_server), "0.secret", app_port)
        await asyncio.wait_for(closed.wait(), 10)
        app_server.close()
        plane_server.close()

    asyncio.run(scenario())
