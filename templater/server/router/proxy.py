"""The front HTTP/1.1 server: every connection to templater's port arrives here, each request is
routed (``AppRouter``) and either answered or passed on to its upstream — an app, a port, or the
API behind a Unix socket — with bodies streamed both ways and upgrades (WebSocket) relayed.

Built on asyncio protocols and httptools rather than a framework: the proxy is the hot path (SPEC
§10). Memory stays bounded whatever the body size: a side that cannot keep up pauses the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections import deque
from collections.abc import Callable, Coroutine
from http import HTTPStatus
from typing import Any, cast

import httptools

from templater.model.forward_route import AGENT_OFFLINE, TOO_MANY_STREAMS
from templater.relay.joining import Held, join
from templater.server.logs import log_request, server_log
from templater.server.router.exchange import (
    Adopt,
    Forward,
    Headers,
    Reply,
    Request,
    Splice,
    Upstream,
    without_hop_by_hop,
)
from templater.server.router.pages import message, page
from templater.server.router.routing import AppRouter
from templater.server.streams import (
    AgentOffline,
    PortRefused,
    StreamBroker,
    StreamUnavailable,
    TooManyStreams,
)

CONNECT_TIMEOUT = 10.0
"""Seconds to wait for an upstream to accept a connection."""
IDLE_TIMEOUT = 75.0
"""Seconds a client connection may go without a whole request head: idle between requests, or
sending one too slowly."""
HEAD_TIMEOUT = 60.0
"""Seconds an app may take to begin its response once it has the request (the API, templater's
own, is not held to it: a large apply takes longer)."""
MIN_BODY_RATE = 1024.0
"""Bytes per second a request body must average once it has taken IDLE_TIMEOUT: one that
trickles in holds a connection and an upstream for nothing."""
_SWEEP_INTERVAL = 5.0
HEAD_LIMIT = 64 * 1024
"""Bytes a request's line and headers may take."""
TARGET_LIMIT = 8 * 1024
"""Bytes a request's target (path and query) may take, as in nginx's default: longer ones are
nothing a person opens, and each would be logged and quoted in full."""
_IDLE_PER_UPSTREAM = 64
"""Kept-alive connections kept per upstream."""

_NO_BODY_STATUSES = frozenset({204, 304})
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_SWITCHING = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %b\r\n\r\n"
_PHRASES = {status.value: status.phrase.encode() for status in HTTPStatus}


def _declared_length(request: Request) -> int:
    value = request.index.get(b"content-length", b"0").strip()
    return int(value) if value.isdigit() else 0


def _too_large(limit: int) -> Reply:
    return page(
        413,
        "Request too large",
        f"templater reads request bodies of up to {limit // 1024:,} KiB here (for the API: "
        "templater server --max-body).",
    )


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


def _head(first_line: bytes, headers: Headers) -> bytes:
    """A message head: ``first_line`` (ending in CRLF), the headers, and the empty line."""
    if not headers:
        return first_line + b"\r\n"
    return first_line + b"\r\n".join([b": ".join(pair) for pair in headers]) + b"\r\n\r\n"


def _reply_bytes(reply: Reply, keep_alive: bool, with_body: bool) -> bytes:
    headers = [pair for pair in reply.headers if pair[0].lower() != b"content-length"]
    headers.append((b"Content-Length", b"%d" % len(reply.body)))
    if not keep_alive:
        headers.append((b"Connection", b"close"))
    line = b"HTTP/1.1 %d %b\r\n" % (reply.status, _PHRASES.get(reply.status, b"Status"))
    return _head(line, headers) + (reply.body if with_body else b"")


def _unreachable(forward: Forward, problem: BaseException, home: tuple[str, str]) -> Reply:
    where = str(forward.upstream)
    if isinstance(problem, AgentOffline):
        return page(
            502,
            "Workspace agent not connected",
            f"templater could not reach {forward.name}: {problem}.",
            home,
        )
    if isinstance(problem, StreamUnavailable):
        reason = str(problem)
    elif isinstance(problem, ConnectionRefusedError):
        reason = f"the connection to {where} was refused: nothing is listening there"
    elif isinstance(problem, TimeoutError):
        reason = f"{where} did not accept a connection within {CONNECT_TIMEOUT:g} s"
    elif isinstance(problem, ConnectionError):
        reason = f"{where} closed the connection without answering"
    else:
        reason = f"cannot connect to {where}: {problem}"
    return page(
        502,
        "Application unavailable",
        f"templater could not reach {forward.name}: {reason}. Is it running in the workspace?",
        home,
    )


class ProxyServer:
    """Serves the front port with ``router``'s decisions; ``start`` binds it."""

    def __init__(
        self,
        router: AppRouter,
        streams: StreamBroker | None = None,
    ) -> None:
        self.router = router
        self.streams = streams
        self.pool = _Pool(streams)
        self._server: asyncio.Server | None = None
        self._unix_servers: list[asyncio.AbstractServer] = []
        self._connections: set[_ClientConnection] = set()
        self.splices: set[asyncio.Task[None]] = set()
        """Forwarded connections joined to their streams (held here so that they run on)."""
        self._sweeper: asyncio.TimerHandle | None = None

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _ClientConnection(self),
            host,
            port,
            reuse_address=True,
            reuse_port=True,  # the server's other processes listen on the same port
            backlog=1024,
        )
        self._sweep()

    async def start_unix(self, path: str) -> None:
        """Serve on a Unix socket as well (what a reverse proxy, or an agent with no route to
        the server's network, connects to)."""
        server = await asyncio.get_running_loop().create_unix_server(
            lambda: _ClientConnection(self), path, backlog=1024
        )
        self._unix_servers.append(server)

    def _sweep(self) -> None:
        """Hold every client connection to its deadlines (one timer for all of them, rather
        than one per request)."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        for connection in list(self._connections):
            connection.enforce_deadlines(now)
        self._sweeper = loop.call_later(_SWEEP_INTERVAL, self._sweep)

    def stop_accepting(self) -> None:
        for server in [self._server, *self._unix_servers]:
            if server is not None:
                server.close()
        if self._sweeper is not None:
            self._sweeper.cancel()

    async def close(self) -> None:
        """Stop accepting, then close every connection (requests in flight are cut)."""
        self.stop_accepting()
        for connection in list(self._connections):
            connection.close()
        self.pool.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)


class _Exchange:
    """One request on a client connection, from its head to the end of its response."""

    __slots__ = (
        "awaiting_since",
        "body",
        "body_bytes",
        "body_complete",
        "body_limit",
        "body_since",
        "body_started",
        "chunked",
        "continue_expected",
        "finished",
        "keep_alive",
        "logged",
        "request",
        "sink",
        "started",
        "status",
        "to_api",
        "tunnel_data",
        "upgrade",
        "version",
    )

    def __init__(self, request: Request, version: str, keep_alive: bool) -> None:
        self.request = request
        self.version = version
        self.keep_alive = keep_alive
        self.started = time.perf_counter()
        self.status = 0
        """The response's status, once its head is known."""
        self.logged = False
        """Whether its line is in the log."""
        self.to_api = False
        """Whether the API answers it, and so writes its line (it knows who sent it)."""
        self.body: list[bytes] = []
        self.body_complete = False
        self.chunked = False
        self.continue_expected = False
        self.upgrade = False
        self.tunnel_data = b""
        self.sink: _UpstreamConnection | None = None
        self.finished = False
        self.awaiting_since: float | None = None
        """When the upstream got the request, while its response has not begun."""
        self.body_started = self.body_since = 0.0
        """When the body began to arrive, and when its latest bytes did."""
        self.body_bytes = 0
        self.body_limit: int | None = None
        """The most bytes of body its upstream takes, once it has one."""


class _ClientConnection(asyncio.Protocol):
    """One connection from a client: parses its requests and runs them one after another."""

    def __init__(self, server: ProxyServer) -> None:
        self._server = server
        self._loop = asyncio.get_running_loop()
        self._parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self._client = ""
        self._url = b""
        self._headers: Headers = []
        self._index: dict[bytes, bytes] = {}
        self._head_size = 0
        self._exchanges: deque[_Exchange] = deque()
        self._parsing: _Exchange | None = None
        self._paused: set[str] = set()
        self._tunnel: _UpstreamConnection | None = None
        self.idle_since: float | None = None
        self._closed = False
        self.writing_paused = False

    # --------------------------------------------------------------------- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        peer = self.transport.get_extra_info("peername")
        self._client = str(peer[0]) if isinstance(peer, tuple) else "127.0.0.1"
        self._server._connections.add(self)
        self.idle_since = self._loop.time()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._server._connections.discard(self)
        if self._exchanges:  # the one in progress: cut short, by the client or the upstream
            _log(self._exchanges[0])
        for exchange in self._exchanges:
            if exchange.sink is not None:
                exchange.sink.abort()
        if self._tunnel is not None:
            self._tunnel.abort()

    def data_received(self, data: bytes) -> None:
        if self._tunnel is not None:
            self._tunnel.send(data)
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            exchange = self._exchanges[-1]
            exchange.tunnel_data = data[upgrade.args[0] :]
            self._pause("upgrade")
        except httptools.HttpParserError as problem:
            self._bad_request(problem.__context__ or problem)

    def pause_writing(self) -> None:
        self.writing_paused = True
        upstream = self._tunnel or (self._exchanges[0].sink if self._exchanges else None)
        if upstream is not None:
            upstream.pause_reading()

    def resume_writing(self) -> None:
        self.writing_paused = False
        upstream = self._tunnel or (self._exchanges[0].sink if self._exchanges else None)
        if upstream is not None:
            upstream.resume_reading()

    # --------------------------------------------------------------------- httptools callbacks

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > TARGET_LIMIT:
            raise _TooLarge(414, f"its target is over {TARGET_LIMIT // 1024} KiB")
        self._head_size += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))
        self._index.setdefault(name.lower(), value)
        # Counted here, on the hot path, rather than in a helper called for each header.
        self._head_size += len(name) + len(value)
        if self._head_size > HEAD_LIMIT:
            raise _TooLarge(431, f"its head is over {HEAD_LIMIT // 1024} KiB")

    def on_headers_complete(self) -> None:
        parser = self._parser
        index = self._index
        request = Request(parser.get_method(), self._url, self._headers, index, self._client)
        self._url, self._headers, self._index, self._head_size = b"", [], {}, 0
        exchange = _Exchange(request, parser.get_http_version(), parser.should_keep_alive())
        exchange.chunked = b"transfer-encoding" in index
        expect = index.get(b"expect")
        exchange.continue_expected = expect is not None and expect.lower() == b"100-continue"
        exchange.upgrade = parser.should_upgrade()
        if exchange.request.has_body:
            exchange.body_started = exchange.body_since = self._loop.time()
        self.idle_since = None
        self._parsing = exchange
        self._exchanges.append(exchange)
        if len(self._exchanges) == 1:
            self._start(exchange)
        else:  # pipelined: wait until the ones before it are answered
            self._pause("pipelined")

    def on_body(self, body: bytes) -> None:
        exchange = self._parsing
        assert exchange is not None
        exchange.body_since = self._loop.time()
        exchange.body_bytes += len(body)
        limit = exchange.body_limit
        if limit is not None and exchange.body_bytes > limit:
            self._give_up(exchange, _too_large(limit))
            return
        if exchange.sink is not None:
            exchange.sink.send_body(body)
        else:
            exchange.body.append(body)
            self._pause("body")

    def on_message_complete(self) -> None:
        exchange = self._parsing
        assert exchange is not None
        exchange.body_complete = True
        if exchange.sink is not None:
            exchange.sink.end_body()

    # --------------------------------------------------------------------- running exchanges

    def _start(self, exchange: _Exchange) -> None:
        _run_eagerly(self._run(exchange), self._loop)

    async def _run(self, exchange: _Exchange) -> None:
        try:
            decision = await self._server.router.route(exchange.request)
        except Exception:  # a bug or the registry down: a page, never a dead socket
            server_log.exception("routing failed path=%s", _path(exchange.request))
            decision = page(500, "Internal error", "templater could not route this request.")
        if self._closed:
            return
        if isinstance(decision, Reply):
            self.reply(exchange, decision)
            return
        if isinstance(decision, Adopt):
            # After the parser has set the bytes that came after the head aside.
            self._loop.call_soon(self._adopt, exchange, decision.stream_id)
            return
        if isinstance(decision, Splice):
            await self._splice(exchange, decision)
            return
        if exchange.continue_expected:
            self.write(_CONTINUE)
        forward = decision
        exchange.to_api = forward.upstream is self._server.router.api
        limit = exchange.body_limit = forward.body_limit
        if limit is not None and _declared_length(exchange.request) > limit:
            self.reply(exchange, _too_large(limit))  # before a byte of it is read
            return
        head = _request_head(exchange, forward)
        pool = self._server.pool
        kept = pool.take(forward.upstream)
        if kept is not None and kept.begin(self, exchange, forward, head):
            return
        # No kept-alive connection, or one the upstream had just closed: a new one.
        try:
            connection = await pool.connect(forward.upstream)
        except (OSError, TimeoutError, StreamUnavailable) as problem:
            self.unreachable(exchange, forward, problem)
            return
        if self._closed:
            pool.release(connection)
        elif not connection.begin(self, exchange, forward, head):
            self.unreachable(exchange, forward, ConnectionResetError())

    def _adopt(self, exchange: _Exchange, stream_id: str) -> None:
        """Hand this connection, an agent's stream, to the broker: it is no longer a client's."""
        streams = self._server.streams
        if streams is None or not exchange.upgrade or self._closed or self.transport is None:
            self.reply(exchange, page(400, "Bad request", "this server takes no streams here"))
            return
        streams.adopt(stream_id, self._detach(exchange), exchange.tunnel_data)

    async def _splice(self, exchange: _Exchange, splice: Splice) -> None:
        """Join this connection, a ``templater port-forward`` or ``templater ssh`` one, to a
        stream to the port it asked for, held against the agent's bound on open streams until
        the two are done; or refuse it as the API would: 502 when the workspace refused the
        port, 429 when the agent's streams are all open, 503 when the agent is not there to ask
        (not connected, or gone without an answer: the client asks again)."""
        streams = self._server.streams
        if streams is None or not exchange.upgrade:
            self.reply(exchange, message(400, "this server forwards no ports here"))
            return
        try:
            stream, early, release = await streams.open_held(
                splice.agent, splice.port, splice.protocol
            )
        except PortRefused as problem:
            self.reply(exchange, message(502, str(problem)))
            return
        except TooManyStreams as problem:
            self.reply(exchange, message(TOO_MANY_STREAMS, str(problem)))
            return
        except StreamUnavailable as problem:
            self.reply(exchange, message(AGENT_OFFLINE, str(problem)))
            return
        # By now (the stream took a round trip to the agent) the parser has set aside what
        # came after the head: the first bytes for the port.
        if self._closed or self.transport is None:
            stream.abort()
            release()
            return
        exchange.status = 101
        client = self._detach(exchange)
        client.write(_SWITCHING % splice.upgrade.encode())
        task = self._loop.create_task(join(client, stream, (exchange.tunnel_data, early)))
        self._server.splices.add(task)
        task.add_done_callback(self._server.splices.discard)
        task.add_done_callback(lambda _: release())

    def _detach(self, exchange: _Exchange) -> asyncio.Transport:
        """This connection's transport, reading paused, for a stream to take over: it is no
        longer a client's connection of this server."""
        assert self.transport is not None
        _log(exchange)
        self._closed = True
        self._server._connections.discard(self)
        transport, self.transport = self.transport, None
        transport.pause_reading()
        return transport

    def attach(self, exchange: _Exchange, sink: _UpstreamConnection) -> None:
        """The upstream is ready for the request's body: send what came so far, read the rest."""
        exchange.sink = sink
        if exchange.body:
            for chunk in exchange.body:
                sink.send_body(chunk)
            exchange.body.clear()
        if exchange.body_complete:
            sink.end_body()
        if self._paused:
            self._resume("body")

    def unreachable(self, exchange: _Exchange, forward: Forward, problem: BaseException) -> None:
        """Answer ``exchange`` with the page saying why ``forward``'s upstream is unreachable."""
        self.reply(exchange, _unreachable(forward, problem, self._server.router.home))

    def reply(self, exchange: _Exchange, reply: Reply) -> None:
        """Answer ``exchange`` with templater's own response."""
        # A body not yet read cannot be skipped safely: close after answering.
        keep_alive = exchange.keep_alive and (
            exchange.body_complete or not exchange.request.has_body
        )
        exchange.keep_alive = keep_alive
        with_body = exchange.request.method != b"HEAD"
        self.write(_reply_bytes(reply, keep_alive, with_body))
        exchange.status = reply.status
        exchange.to_api = False  # answered here, also when it was meant for the API
        self.finish(exchange)

    def finish(self, exchange: _Exchange) -> None:
        """``exchange``'s response is complete: go on with the next request, or close."""
        exchange.finished = True
        exchange.sink = None
        _log(exchange)
        if self._exchanges and self._exchanges[0] is exchange:
            self._exchanges.popleft()
        if self.transport is None or self._closed:
            return
        # After an upgrade that did not happen, or a body the upstream did not wait for, the
        # connection's bytes no longer line up with requests: close it. A request without a
        # body may be answered before the parser reaches its end (a route decided at once).
        unread = exchange.request.has_body and not exchange.body_complete
        if not exchange.keep_alive or exchange.upgrade or unread:
            self.close()
            return
        if self._paused:
            # A body read ahead while its request was routed is done with once it is answered
            # (by a reply of templater's own): reading goes on.
            self._resume("body")
            self._resume("pipelined")
        if self._exchanges:
            self._start(self._exchanges[0])
        else:
            self.idle_since = self._loop.time()

    def start_tunnel(self, upstream: _UpstreamConnection, exchange: _Exchange) -> None:
        """The upstream switched protocols: from now on bytes pass through both ways."""
        _log(exchange)
        self._tunnel = upstream
        if exchange.tunnel_data:
            upstream.send(exchange.tunnel_data)
        self._resume("upgrade")
        self._resume("body")

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self._closed:
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def now(self) -> float:
        return self._loop.time()

    def enforce_deadlines(self, now: float) -> None:
        """Close this connection when it has been idle too long; answer 408 for a request body
        that stalls or trickles, and 504 for an app that does not begin its response."""
        if self.idle_since is not None:
            if now - self.idle_since > IDLE_TIMEOUT:
                self.close()
            return
        parsing = self._parsing
        if (
            parsing is not None
            and parsing.request.has_body
            and not parsing.body_complete
            and not self._paused  # held back by templater itself, not slow
            and (
                now - parsing.body_since > IDLE_TIMEOUT
                or (
                    now - parsing.body_started > IDLE_TIMEOUT
                    and parsing.body_bytes < MIN_BODY_RATE * (now - parsing.body_started)
                )
            )
        ):
            self._give_up(
                parsing, page(408, "Request timeout", "The request's body came too slowly.")
            )
            return
        if not self._exchanges:
            return
        exchange = self._exchanges[0]
        waited = exchange.awaiting_since
        if waited is not None and not exchange.to_api and now - waited > HEAD_TIMEOUT:
            self._give_up(
                exchange,
                page(
                    504, "App did not answer", f"The app did not answer within {HEAD_TIMEOUT:g} s."
                ),
            )

    def _give_up(self, exchange: _Exchange, reply: Reply) -> None:
        """End ``exchange`` with ``reply`` if its response has not begun (else cut it), and
        drop its upstream connection."""
        sink = exchange.sink
        if exchange.status == 0 and not exchange.finished:
            exchange.keep_alive = False
            self.reply(exchange, reply)
        else:
            self.close()
        if sink is not None:
            sink.abort()

    def upstream_paused(self) -> None:
        self._pause("upstream")

    def upstream_resumed(self) -> None:
        self._resume("upstream")

    def _pause(self, reason: str) -> None:
        if not self._paused and self.transport is not None:
            self.transport.pause_reading()
        self._paused.add(reason)

    def _resume(self, reason: str) -> None:
        if reason in self._paused:
            self._paused.discard(reason)
            if not self._paused and self.transport is not None and not self._closed:
                self.transport.resume_reading()

    def _bad_request(self, problem: BaseException) -> None:
        if self.transport is None:
            return
        status = problem.status if isinstance(problem, _TooLarge) else 400
        title = _PHRASES[status].decode()
        reply = page(status, title, f"templater could not read this request: {problem}")
        self.transport.write(_reply_bytes(reply, False, True))
        log_request("-", "-", "-", status, 0.0, None)
        self.transport.close()


class _TooLarge(ValueError):
    """A request head over one of the limits, with the status that says which."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _path(request: Request) -> str:
    """The request's path, without its query (where a sign-in ticket may be)."""
    return request.target.partition(b"?")[0].decode("latin-1")


def _log(exchange: _Exchange) -> None:
    """The request's line in the log, unless it is there already or the API answered it; 499
    (as nginx says) for one cut short before its response began."""
    if not exchange.logged and not exchange.to_api:
        exchange.logged = True
        request = exchange.request
        log_request(
            request.method.decode("latin-1"),
            (request.index.get(b"host") or b"").decode("latin-1"),
            _path(request),
            exchange.status or 499,
            time.perf_counter() - exchange.started,
            request.user,
        )


def _run_eagerly(coroutine: Coroutine[Any, Any, None], loop: asyncio.AbstractEventLoop) -> None:
    """Run ``coroutine`` now, up to its first real wait, and only then in a task (what Python
    3.12's eager task factory does). A request to a known app over a kept-alive connection never
    waits: it is routed and sent without a task at all."""
    try:
        waiting_on = coroutine.send(None)
    except StopIteration:
        return
    loop.create_task(_carry_on(coroutine, waiting_on))


async def _carry_on(coroutine: Coroutine[Any, Any, None], waiting_on: Any) -> None:
    while True:
        if waiting_on is None:  # a bare yield, as asyncio.sleep(0) does
            await asyncio.sleep(0)
        else:
            # As a task would: take over the wait on the future (its flag says someone waits),
            # and let the coroutine read the outcome itself when it resumes.
            waiting_on._asyncio_future_blocking = False
            with contextlib.suppress(BaseException):
                await waiting_on
        try:
            waiting_on = coroutine.send(None)
        except StopIteration:
            return


def _request_head(exchange: _Exchange, forward: Forward) -> bytes:
    """The request line and headers for the upstream, framed for this hop."""
    request = exchange.request
    headers = forward.headers
    if exchange.upgrade:
        headers.append((b"Connection", b"Upgrade"))
        headers.append((b"Upgrade", request.header(b"upgrade") or b""))
    if exchange.chunked:
        headers.append((b"Transfer-Encoding", b"chunked"))
    elif exchange.request.has_body:
        headers.append((b"Content-Length", request.header(b"content-length") or b"0"))
    if exchange.version == "1.0":
        # An HTTP/1.0 request, so that the upstream never answers with chunks this client
        # could not read (the response passes through with its own framing).
        headers = [*headers, (b"Connection", b"keep-alive")]
        return _head(b"%b %b HTTP/1.0\r\n" % (request.method, forward.target), headers)
    return _head(b"%b %b HTTP/1.1\r\n" % (request.method, forward.target), headers)


class _UpstreamConnection(asyncio.Protocol):
    """One connection to an upstream, used by one exchange at a time and kept alive between.

    A response passes through as it came: only its head is rewritten (hop-by-hop headers out,
    the router's rewrite applied, this hop's Connection header in) and its body keeps its own
    framing; httptools only tells where the response ends."""

    def __init__(self, pool: _Pool, upstream: Upstream) -> None:
        self._pool = pool
        self.upstream = upstream
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._client: _ClientConnection | None = None
        self._exchange: _Exchange | None = None
        self._forward: Forward | None = None
        self._head: bytes | None = b""
        """The response head read so far; None once it was passed on."""
        self._status = 0
        self._done = False
        self._reusable = False
        self._until_close = False
        self._request_sent = False
        self._tunnel = False
        self._reading_paused = False
        self.closed = False

    # --------------------------------------------------------------------- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._pool.forget(self)
        client, exchange = self._client, self._exchange
        self._client = self._exchange = None
        if client is None or exchange is None or exchange.finished:
            return
        if self._tunnel:
            client.close()
        elif self._head is None and self._until_close:  # a body that ends with the connection
            exchange.keep_alive = False
            client.finish(exchange)
        elif self._head is not None:
            assert self._forward is not None
            client.unreachable(exchange, self._forward, exc or ConnectionResetError())
        else:  # cut in the middle of a body: the client must not take it as whole
            client.close()

    def data_received(self, data: bytes) -> None:
        client = self._client
        if client is None:  # nothing was asked: an upstream that talks out of turn is dropped
            self.abort()
            return
        if self._tunnel:
            client.write(data)
            return
        if self._exchange is not None:
            self._exchange.awaiting_since = None
        head = None
        if self._head is not None:
            data = self._head + data
            end = data.find(b"\r\n\r\n")
            if end < 0:
                if len(data) > HEAD_LIMIT:
                    self.abort()
                else:
                    self._head = data
                return
            if data[9:10] == b"1" and data[9:12] != b"101":
                # An interim response (103 Early Hints): not passed on; the real one follows.
                self._head = b""
                self.data_received(data[end + 4 :])
                return
            head = data[: end + 2]
        upgraded = False
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            upgraded = True
        except httptools.HttpParserError:  # also bytes after the response (on_message_begin)
            self.abort()
            return
        exchange = self._exchange
        if upgraded and not (exchange is not None and exchange.upgrade):
            # A 101 the client did not ask for would make its next requests raw bytes to the app.
            self.abort()
            return
        if (
            head is not None
            and exchange is not None
            and exchange.request.method == b"HEAD"
            and len(data) > len(head) + 2
        ):  # a body after a HEAD response would be taken as the answer to the next request
            self.abort()
            return
        if head is not None:
            self._head = None
            data = self._client_head(head) + data[len(head) + 2 :]
        if data:
            client.write(data)
        if upgraded:
            self._become_tunnel()
        elif self._done:
            self._complete()

    def pause_writing(self) -> None:
        if self._client is not None:
            self._client.upstream_paused()

    def resume_writing(self) -> None:
        if self._client is not None:
            self._client.upstream_resumed()

    # --------------------------------------------------------------------- one exchange

    def begin(
        self, client: _ClientConnection, exchange: _Exchange, forward: Forward, head: bytes
    ) -> bool:
        """Send the request; False when this (kept-alive) connection turned out to be closed."""
        if self.closed or self.transport is None or self.transport.is_closing():
            return False
        self._client, self._exchange, self._forward = client, exchange, forward
        self._head = b""
        self._status = 0
        self._done = self._reusable = self._until_close = False
        self._request_sent = not exchange.request.has_body
        # The app's time to answer starts once it has the whole request.
        exchange.awaiting_since = None if exchange.request.has_body else client.now()
        self.transport.write(head)
        client.attach(exchange, self)
        if client.writing_paused:
            self.pause_reading()
        return True

    def send_body(self, data: bytes) -> None:
        if self.transport is None or self.closed or not data:
            return
        exchange = self._exchange
        self.transport.write(_chunk(data) if exchange is not None and exchange.chunked else data)

    def end_body(self) -> None:
        exchange = self._exchange
        if (
            exchange is not None
            and exchange.chunked
            and self.transport is not None
            and not self.closed
        ):
            self.transport.write(b"0\r\n\r\n")
        self._request_sent = True
        if exchange is not None and self._client is not None and exchange.status == 0:
            exchange.awaiting_since = self._client.now()

    def send(self, data: bytes) -> None:
        """Raw bytes, in a tunnel."""
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def pause_reading(self) -> None:
        if self.transport is not None and not self._reading_paused and not self.closed:
            self._reading_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and self._reading_paused and not self.closed:
            self._reading_paused = False
            self.transport.resume_reading()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    # --------------------------------------------------------------------- the response

    def on_message_begin(self) -> None:
        if self._done:  # a second response in the same bytes: for no request of this client's
            raise ConnectionError("the upstream answered more than it was asked")

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()
        exchange = self._exchange
        if exchange is not None:
            exchange.status = self._status
        if exchange is not None and exchange.request.method == b"HEAD":
            self._finished()  # httptools cannot be told that a response to HEAD has no body

    def on_message_complete(self) -> None:
        self._finished()

    def _finished(self) -> None:
        # Read now: once the message is over, the parser no longer knows.
        self._reusable = self._parser.should_keep_alive()
        self._done = True

    def _client_head(self, head: bytes) -> bytes:
        """The response's status line and headers as the client gets them (``head`` ends with
        the last header's CRLF)."""
        exchange, forward = self._exchange, self._forward
        assert exchange is not None and forward is not None
        status = self._status
        line_end = head.find(b"\r\n") + 2
        status_line, fields = head[:line_end], head[line_end:]
        lowered = b"\n" + fields.lower()
        fields = without_hop_by_hop(fields, lowered, keep_upgrade=status == 101)
        if forward.rewrite is not None:
            fields = forward.rewrite(fields)
        if status == 101:
            return status_line + fields + b"Connection: Upgrade\r\n\r\n"
        bodiless = exchange.request.method == b"HEAD" or status in _NO_BODY_STATUSES
        if not bodiless and b"\ncontent-length:" not in lowered:
            self._until_close = b"\ntransfer-encoding:" not in lowered
            if self._until_close:
                exchange.keep_alive = False
        if not exchange.keep_alive:
            fields += b"Connection: close\r\n"
        elif exchange.version == "1.0":
            fields += b"Connection: keep-alive\r\n"
        return status_line + fields + b"\r\n"

    def _complete(self) -> None:
        client, exchange = self._client, self._exchange
        self._client = self._exchange = self._forward = None
        reusable = self._reusable and self._request_sent and not self.closed
        if exchange is not None and exchange.request.method == b"HEAD":
            self._parser = httptools.HttpResponseParser(self)
        self.resume_reading()
        if reusable:
            self._pool.release(self)
        else:
            self.abort()
        if client is not None and exchange is not None:
            client.finish(exchange)

    def carry(
        self, client: _ClientConnection, exchange: _Exchange, stream: asyncio.Transport
    ) -> None:
        """Be ``stream``'s protocol, a tunnel from the start: its bytes go to ``client``."""
        self._client, self._exchange, self._tunnel = client, exchange, True
        stream.set_protocol(self)
        self.connection_made(stream)
        stream.resume_reading()

    def _become_tunnel(self) -> None:
        client, exchange = self._client, self._exchange
        if client is None or exchange is None or self._status != 101:
            self.abort()
            return
        self._tunnel = True
        client.start_tunnel(self, exchange)


class _Pool:
    """Kept-alive upstream connections, by upstream."""

    def __init__(self, streams: StreamBroker | None) -> None:
        self._idle: dict[Upstream, list[_UpstreamConnection]] = {}
        self._tls: ssl.SSLContext | None = None
        self._streams = streams

    def take(self, upstream: Upstream) -> _UpstreamConnection | None:
        """A kept-alive connection to ``upstream``, if there is one."""
        idle = self._idle.get(upstream)
        while idle:
            connection = idle.pop()
            if not connection.closed:
                return connection
        return None

    async def connect(self, upstream: Upstream) -> _UpstreamConnection:
        """A new connection to ``upstream``."""
        loop = asyncio.get_running_loop()
        factory: Callable[[], _UpstreamConnection] = lambda: _UpstreamConnection(self, upstream)  # noqa: E731
        if upstream.path is None:
            return await self._through_agent(upstream, factory())
        connect = loop.create_unix_connection(factory, upstream.path)
        _, connection = await asyncio.wait_for(connect, CONNECT_TIMEOUT)
        return connection

    async def _through_agent(
        self, upstream: Upstream, connection: _UpstreamConnection
    ) -> _UpstreamConnection:
        """A connection to ``localhost:port`` in the workspace: a stream from its agent."""
        assert upstream.agent is not None
        if self._streams is None:
            raise StreamUnavailable("this server process reaches no workspace agents")
        transport, early = await self._streams.open(upstream.agent, upstream.port)
        held = transport.get_protocol()
        if early or (isinstance(held, Held) and held.early):  # HTTP speaks when spoken to
            transport.abort()
            raise ConnectionResetError("the app sent bytes before it was asked anything")
        if upstream.tls:
            loop = asyncio.get_running_loop()
            transport.set_protocol(connection)
            tls = await asyncio.wait_for(
                loop.start_tls(
                    transport, connection, self._tls_context(), server_hostname=upstream.host
                ),
                CONNECT_TIMEOUT,
            )
            assert tls is not None
            connection.connection_made(tls)
            return connection
        transport.set_protocol(connection)
        connection.connection_made(transport)
        transport.resume_reading()
        return connection

    def release(self, connection: _UpstreamConnection) -> None:
        idle = self._idle.setdefault(connection.upstream, [])
        if len(idle) < _IDLE_PER_UPSTREAM:
            idle.append(connection)
        else:
            connection.abort()

    def forget(self, connection: _UpstreamConnection) -> None:
        idle = self._idle.get(connection.upstream)
        if idle and connection in idle:
            idle.remove(connection)

    def close(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.abort()
        self._idle.clear()

    def _tls_context(self) -> ssl.SSLContext:
        """HTTPS inside a workspace is the workspace's own business (usually a self-signed
        certificate): the connection is encrypted but the certificate is not checked, as Coder
        does."""
        if self._tls is None:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            self._tls = context
        return self._tls
