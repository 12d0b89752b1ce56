"""Two plain sockets joined in the kernel: each direction's bytes move through a pipe of its own
with ``os.splice``, never copied into Python, driven by the event loop's readiness callbacks.

Half-close is passed on: the end of one direction shuts the other socket for writing, and the
pair closes once both directions have ended, or at the first error on either. A direction whose
destination is full stops reading its source until its pipe is drained, which holds the sender
back as TCP's own flow control does: at most one pipe's worth of bytes waits in the agent."""

from __future__ import annotations

import asyncio
import fcntl
import os
import socket
from collections.abc import Callable
from contextlib import suppress

AVAILABLE = hasattr(os, "splice")
"""``os.splice`` exists (Linux, Python 3.10 and later)."""

_CHUNK = 1 << 20  # fs.pipe-max-size's default: fewer calls per megabyte than 64 KiB pipes
_FLAGS = getattr(os, "SPLICE_F_MOVE", 0) | getattr(os, "SPLICE_F_NONBLOCK", 0)


class _Direction:
    """Bytes from ``source`` to ``sink``, through a pipe."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        source: socket.socket,
        sink: socket.socket,
        ended: Callable[[OSError | None], None],
    ) -> None:
        self._loop = loop
        self._source, self._sink = source.fileno(), sink.fileno()
        self._sink_socket = sink
        self._pipe_out, self._pipe_in = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        with suppress(OSError):  # a smaller pipe only means more calls
            fcntl.fcntl(self._pipe_in, fcntl.F_SETPIPE_SZ, _CHUNK)
        self._in_pipe = 0
        self._eof = False
        self._ended = ended
        self._closed = False

    def start(self) -> None:
        self._loop.add_reader(self._source, self._readable)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._loop.remove_reader(self._source)
            self._loop.remove_writer(self._sink)
            os.close(self._pipe_out)
            os.close(self._pipe_in)

    def _readable(self) -> None:
        try:
            moved = os.splice(self._source, self._pipe_in, _CHUNK, flags=_FLAGS)
        except BlockingIOError:
            return
        except OSError as problem:
            self._ended(problem)
            return
        if moved == 0:
            self._eof = True
            self._loop.remove_reader(self._source)
        self._in_pipe += moved
        self._drain()

    def _writable(self) -> None:
        self._loop.remove_writer(self._sink)
        self._drain()
        if not self._in_pipe and not self._eof and not self._closed:
            self._loop.add_reader(self._source, self._readable)

    def _drain(self) -> None:
        while self._in_pipe:
            try:
                moved = os.splice(self._pipe_out, self._sink, self._in_pipe, flags=_FLAGS)
            except BlockingIOError:  # the sink is full: read no more until it takes these
                self._loop.remove_reader(self._source)
                self._loop.add_writer(self._sink, self._writable)
                return
            except OSError as problem:
                self._ended(problem)
                return
            self._in_pipe -= moved
        if self._eof:
            with suppress(OSError):
                self._sink_socket.shutdown(socket.SHUT_WR)
            self._ended(None)


async def splice_join(
    first: socket.socket, second: socket.socket, pending: tuple[bytes, bytes] = (b"", b"")
) -> None:
    """Carry bytes between two connected sockets until both directions end (or one fails), then
    close them. ``pending`` holds bytes already read from each (first's, then second's) that the
    other must get first."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    ends = 0

    def ended(problem: OSError | None) -> None:
        nonlocal ends
        ends += 1
        if (problem is not None or ends == 2) and not done.done():
            done.set_result(None)

    directions: list[_Direction] = []
    try:
        for sock in (first, second):
            sock.setblocking(False)
        if pending[0]:
            await loop.sock_sendall(second, pending[0])
        if pending[1]:
            await loop.sock_sendall(first, pending[1])
        directions = [
            _Direction(loop, first, second, ended),
            _Direction(loop, second, first, ended),
        ]
        for direction in directions:
            direction.start()
        await done
    finally:
        for direction in directions:
            direction.close()
        first.close()
        second.close()
