"""The health monitor core (templater.health) against real HTTP apps on loopback ports,
written here on asyncio streams: one answering 200, one 500, one that never answers, one that
closes or resets the connection, one sending garbage, one redirecting, one whose answers follow
a script. Intervals are 1 s; the assertions are on the transitions reported (order, state,
reason) and, loosely, on when they happened."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import struct
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from templater.health import (
    HEALTHY,
    INITIALIZING,
    UNHEALTHY,
    HealthMonitor,
    Target,
    Transition,
    parse_response_head,
)
from templater.health.monitor import _Entry, _phase
from templater.health.wire import Probe

from .conftest import require

# -- apps --------------------------------------------------------------------------------------


@dataclass
class Request:
    at: float  # time.monotonic()
    line: str
    headers: dict[str, str]


class App:
    """A loopback HTTP app. ``behaviour``: ``status`` (answers ``statuses`` in turn, the last
    one repeating), ``redirect`` (302 to ``location``), ``hang`` (never answers; notes when the
    client closes), ``close`` (closes without answering), ``reset`` (resets the connection),
    ``garbage`` (answers something that is not HTTP)."""

    def __init__(
        self,
        behaviour: str = "status",
        statuses: Iterable[int] = (200,),
        location: str = "",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.behaviour = behaviour
        self.statuses = list(statuses)
        self.location = location
        self.tls = tls
        self.requests: list[Request] = []
        self.closed: list[float] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self._arrivals = asyncio.Condition()

    async def __aenter__(self) -> App:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def wait_for_requests(self, count: int, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout), self._arrivals:
            await self._arrivals.wait_for(lambda: len(self.requests) >= count)

    def times(self, since: float) -> list[float]:
        return [round(request.at - since, 2) for request in self.requests]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._serve(reader, writer)
        except (asyncio.CancelledError, ConnectionError, asyncio.IncompleteReadError):
            pass  # the test is over, or the monitor gave up
        finally:
            writer.transport.abort()
            self._handlers.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        line, *fields = head.split("\r\n")
        headers = {}
        for field in fields:
            if field:
                name, _, value = field.partition(":")
                headers[name.strip().lower()] = value.strip()
        number = len(self.requests)
        async with self._arrivals:
            self.requests.append(Request(time.monotonic(), line, headers))
            self._arrivals.notify_all()
        if self.behaviour == "status":
            status = self.statuses[min(number, len(self.statuses) - 1)]
            body = b"x" * 4096  # a body the monitor does not read
            writer.write(
                b"HTTP/1.1 %d Whatever\r\nContent-Length: %d\r\n\r\n" % (status, len(body))
            )
            writer.write(body)
            await writer.drain()
        elif self.behaviour == "redirect":
            writer.write(f"HTTP/1.1 302 Found\r\nLocation: {self.location}\r\n\r\n".encode())
            await writer.drain()
        elif self.behaviour == "hang":
            try:
                await reader.read()  # until the monitor closes the connection
            finally:
                self.closed.append(time.monotonic())
        elif self.behaviour == "reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif self.behaviour == "garbage":
            writer.write(b"garbage\r\n\r\n")
            await writer.drain()
        # "close": nothing; every behaviour ends with the connection closed


async def until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    """Wait for ``condition``: for an event, not for a time (the deadline is for a machine
    that is loaded, not slow)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def refused_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- the monitor -------------------------------------------------------------------------------


class Recorder:
    """A ``report`` that keeps what it is given; ``fail_first`` calls raise."""

    def __init__(self, fail_first: int = 0) -> None:
        self.transitions: list[Transition] = []
        self.batches = 0
        self.fail_first = fail_first

    async def __call__(self, batch: list[Transition]) -> None:
        self.batches += 1
        if self.batches <= self.fail_first:
            raise RuntimeError("the database is away")
        self.transitions.extend(batch)

    def of(self, key: int) -> list[tuple[str, str]]:
        return [(t.state, t.reason) for t in self.transitions if t.key == key]

    def times(self, key: int, since: datetime) -> list[float]:
        return [(t.at - since).total_seconds() for t in self.transitions if t.key == key]


@asynccontextmanager
async def running(recorder: Recorder) -> AsyncIterator[HealthMonitor]:
    monitor = HealthMonitor(recorder, batch_window=0.01)
    await monitor.start()
    try:
        yield monitor
    finally:
        await monitor.stop()


def target(
    key: int,
    url: str,
    *,
    address: str = "127.0.0.1",
    interval: int = 1,
    threshold: int = 1,
    state: str = INITIALIZING,
) -> Target:
    return Target(key, url, address, interval, threshold, state)


def about(value: float, expected: float, slack: float = 0.35) -> bool:
    return expected - 0.05 <= value <= expected + slack


# -- against real apps -------------------------------------------------------------------------


def test_every_kind_of_app_gets_its_transition_at_the_right_time() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        async with (
            App() as ok,
            App(statuses=[500]) as failing,
            App("hang") as hanging,
            App("close") as closing,
            App("reset") as resetting,
            App("garbage") as garbage,
            App() as elsewhere,
            App("redirect") as moved,
            running(recorder) as monitor,
        ):
            moved.location = f"http://127.0.0.1:{elsewhere.port}/"
            targets = [
                # the URL's host is the workspace: the monitor goes to the address
                target(1, f"http://workspace.invalid:{ok.port}/healthz?probe=1"),
                target(2, f"http://localhost:{failing.port}/", threshold=2),
                target(3, f"http://localhost:{failing.port}/", address="localhost"),
                target(4, f"http://localhost:{hanging.port}/"),
                target(5, f"http://localhost:{closing.port}/"),
                target(6, f"http://localhost:{resetting.port}/"),
                target(7, f"http://localhost:{garbage.port}/"),
                target(8, f"http://localhost:{moved.port}/old"),
                target(9, f"http://localhost:{refused_port()}/"),
                target(10, f"http://localhost:{ok.port}/", state=HEALTHY),
                target(11, f"http://localhost:{failing.port}/", state=UNHEALTHY),
                target(12, f"http://localhost:{failing.port}/", state=HEALTHY, threshold=2),
                target(13, "gopher://localhost/"),
            ]
            joined, joined_at = time.monotonic(), datetime.now(UTC)
            monitor.update(targets)
            assert monitor.states()[1] == INITIALIZING
            await asyncio.sleep(2.5)
            states = monitor.states()
            stats = monitor.stats()

        assert recorder.of(1) == [(HEALTHY, "status 200")]
        assert recorder.of(2) == [(UNHEALTHY, "status 500")]
        assert recorder.of(3) == [(UNHEALTHY, "status 500")]
        assert recorder.of(4) == [(UNHEALTHY, "timeout after 1.0 s")]
        assert recorder.of(5) == [(UNHEALTHY, "connection closed without a response")]
        assert recorder.of(6) == [(UNHEALTHY, "connection reset")]
        assert recorder.of(7) == [(UNHEALTHY, "invalid HTTP response")]
        assert recorder.of(8) == [(HEALTHY, "status 302")]
        assert recorder.of(9) == [(UNHEALTHY, "connection refused")]
        assert recorder.of(10) == []  # already healthy
        assert recorder.of(11) == []  # already unhealthy
        assert recorder.of(12) == [(UNHEALTHY, "status 500")]  # healthy through 1 failure
        assert recorder.of(13) == [(UNHEALTHY, "invalid URL: scheme 'gopher' is not http or https")]

        # the first check one interval after joining; unhealthy after `threshold` failures
        (t1,) = recorder.times(1, joined_at)
        assert about(t1, 1.0)
        (t2,) = recorder.times(2, joined_at)
        assert about(t2, 2.0)  # threshold 2: the second failure, not the first
        (t3,) = recorder.times(3, joined_at)
        assert about(t3, 1.0)  # threshold 1
        (t4,) = recorder.times(4, joined_at)
        assert about(t4, 2.0)  # sent at 1 s, timed out 1 s later
        (t12,) = recorder.times(12, joined_at)
        assert about(t12, 2.0)
        assert all(
            about(t, 1.0) for key in (5, 6, 7, 8, 9, 13) for t in recorder.times(key, joined_at)
        )
        assert states[1] == HEALTHY and states[4] == UNHEALTHY and states[11] == UNHEALTHY

        # what the app saw: the original Host, the path and query, no keep-alive
        assert about(ok.requests[0].at - joined, 1.0)
        request = ok.requests[0]
        assert request.line == "GET /healthz?probe=1 HTTP/1.1"
        assert request.headers["host"] == f"workspace.invalid:{ok.port}"
        assert request.headers["connection"] == "close"
        assert "templater" in request.headers["user-agent"]
        assert len(ok.requests) == 2 * 2  # targets 1 and 10, at 1 s and 2 s
        assert moved.requests and not elsewhere.requests  # the redirect is not followed
        assert len(hanging.requests) == 2 and len(hanging.closed) >= 1
        assert stats.missed == 0 and stats.timeouts >= 1

    asyncio.run(scenario())


def test_an_app_that_flips_goes_unhealthy_and_recovers() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        async with (
            App(statuses=[200, 503, 200]) as flipping,
            App(statuses=[503, 503, 200]) as recovering,
            running(recorder) as monitor,
        ):
            joined_at = datetime.now(UTC)
            monitor.update(
                [
                    target(1, f"http://localhost:{flipping.port}/", threshold=1),
                    target(2, f"http://localhost:{recovering.port}/", threshold=2),
                ]
            )
            await flipping.wait_for_requests(3)
            await asyncio.sleep(0.2)

        assert recorder.of(1) == [
            (HEALTHY, "status 200"),
            (UNHEALTHY, "status 503"),
            (HEALTHY, "status 200"),
        ]
        assert all(map(about, recorder.times(1, joined_at), [1.0, 2.0, 3.0]))
        # threshold 2: unhealthy at the second failure, healthy again at the first success
        assert recorder.of(2) == [(UNHEALTHY, "status 503"), (HEALTHY, "status 200")]
        assert all(map(about, recorder.times(2, joined_at), [2.0, 3.0]))

    asyncio.run(scenario())


def test_a_check_in_flight_of_a_removed_or_changed_app_is_never_reported() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        async with App("hang") as hanging, App() as ok, running(recorder) as monitor:
            joined_at = datetime.now(UTC)
            monitor.update(
                [
                    target(1, f"http://localhost:{hanging.port}/"),
                    target(2, f"http://localhost:{hanging.port}/"),
                ]
            )
            await hanging.wait_for_requests(2)
            assert monitor.stats().in_flight == 2
            # 1 is removed; 2 gets another URL (a new healthcheck)
            monitor.update([target(2, f"http://localhost:{ok.port}/")])
            assert monitor.states() == {2: INITIALIZING}
            assert monitor.stats().in_flight == 0  # the monitor hung up on both at once
            await until(lambda: len(hanging.closed) == 2)
            await until(lambda: bool(recorder.of(2)))
            assert monitor.stats().timeouts == 0  # neither was left to time out
            assert len(hanging.requests) == 2
        # no timeout from the old checks; the new URL from the next check, at 2 s
        assert recorder.of(1) == []
        assert recorder.of(2) == [(HEALTHY, "status 200")]
        assert about(recorder.times(2, joined_at)[0], 2.0)

    asyncio.run(scenario())


def test_a_changed_interval_takes_effect_after_the_next_check() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        async with App() as changed, App() as unchanged, running(recorder) as monitor:
            joined = time.monotonic()
            other = target(2, f"http://localhost:{unchanged.port}/")
            monitor.update([target(1, f"http://localhost:{changed.port}/", interval=2), other])
            await asyncio.sleep(0.5)
            faster = target(1, f"http://localhost:{changed.port}/", interval=1)
            while time.monotonic() - joined < 3.5:
                monitor.update([faster, other])  # again and again: no check moves
                await asyncio.sleep(0.25)
        # the next check stays at 2 s; the one after follows the new interval
        assert [round(t) for t in changed.times(joined)] == [2, 3]
        assert all(map(about, changed.times(joined), [2, 3]))
        assert len(unchanged.requests) == 3
        assert all(map(about, unchanged.times(joined), [1, 2, 3]))
        assert recorder.of(1) == [(HEALTHY, "status 200")]

    asyncio.run(scenario())


def test_targets_known_at_start_are_spread_over_the_first_interval() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        async with App() as app:
            monitor = HealthMonitor(recorder, batch_window=0.01)
            monitor.update([target(key, f"http://localhost:{app.port}/{key}") for key in range(40)])
            started = time.monotonic()
            await monitor.start()
            try:
                await app.wait_for_requests(40)
                await asyncio.sleep(0.2)
            finally:
                await monitor.stop()
        first: dict[str, float] = {}
        for request in app.requests:
            first.setdefault(request.line, request.at - started)
        assert len(first) == 40  # each target checked within its first interval
        assert min(first.values()) >= 0 and max(first.values()) <= 1.1
        assert max(first.values()) - min(first.values()) > 0.6  # spread, not a burst
        assert sorted(t.key for t in recorder.transitions) == list(range(40))

    asyncio.run(scenario())


def test_stop_is_prompt_with_hanging_checks_in_flight() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        async with App("hang") as hanging:
            monitor = HealthMonitor(recorder, batch_window=0.01)
            await monitor.start()
            monitor.update([target(key, f"http://localhost:{hanging.port}/") for key in range(100)])
            await hanging.wait_for_requests(100)
            assert monitor.stats().in_flight == 100
            await monitor.stop()
            stats = monitor.stats()
            # Every check cancelled at once: none waited out its timeout (1 s).
            assert stats.in_flight == 0 and stats.timeouts == 0
            await until(lambda: len(hanging.closed) == 100)  # every one closed by the monitor
        assert recorder.transitions == []

    asyncio.run(scenario())


def test_report_errors_are_logged_and_later_transitions_still_reported() -> None:
    async def scenario() -> None:
        recorder = Recorder(fail_first=1)
        async with App(statuses=[200, 503]) as app, running(recorder) as monitor:
            monitor.update([target(1, f"http://localhost:{app.port}/")])
            await app.wait_for_requests(2)
            await asyncio.sleep(0.2)
            stats = monitor.stats()
        assert recorder.of(1) == [(UNHEALTHY, "status 503")]  # the healthy one was dropped
        assert stats.report_errors == 1 and stats.transitions == 1

    asyncio.run(scenario())


def test_https_with_a_self_signed_certificate(tmp_path: Path) -> None:
    require(shutil.which("openssl") is not None, "openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
            "/CN=workspace.invalid", "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def scenario() -> None:
        recorder = Recorder()
        async with (
            App(tls=context) as app,
            App("hang", tls=context) as hanging,
            running(recorder) as monitor,
        ):
            monitor.update(
                [
                    target(1, f"https://workspace.invalid:{app.port}/ready"),
                    target(2, f"https://workspace.invalid:{hanging.port}/ready"),
                    target(3, f"https://localhost:{refused_port()}/"),
                ]
            )
            await app.wait_for_requests(1)
            await asyncio.sleep(1.3)
        assert recorder.of(1) == [(HEALTHY, "status 200")]
        assert app.requests[0].headers["host"] == f"workspace.invalid:{app.port}"
        assert app.requests[0].line == "GET /ready HTTP/1.1"
        assert recorder.of(2) == [(UNHEALTHY, "timeout after 1.0 s")]
        assert recorder.of(3) == [(UNHEALTHY, "connection refused")]

    asyncio.run(scenario())


# -- without the network -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"HTTP/1.1 200 OK\r\n", 200),
        (b"HTTP/1.0 503 Service Unavailable\r\nRetry-After: 1\r\n", 503),
        (b"HTTP/1.1 204\r\n", 204),
        (b"HTTP/1.1 302 \n", 302),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\n", 404),
        (b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\n", 200),
        (b"HTTP/1.1 101 Switching Protocols\r\n", 101),
        (b"HTTP/1.1 200 OK", None),  # incomplete
        (b"HTT", None),
        (b"", None),
        (b"HTTP/1.1 100 Continue\r\nX: y\r\n", None),  # the final response is still to come
    ],
)
def test_response_heads(head: bytes, status: int | None) -> None:
    assert parse_response_head(head) == status


@pytest.mark.parametrize(
    "head",
    [
        b"garbage\r\n",
        b"garbage",  # no need to wait for the end of the line
        b"HTTP/2 200\r\n",
        b"HTTP/1.1 20 OK\r\n",
        b"HTTP/1.1 2000 OK\r\n",
        b"HTTP/1.1 099 OK\r\n",
        b"HTTP/1.1  200 OK\r\n",
        b"http/1.1 200 OK\r\n",
        b"SSH-2.0-OpenSSH_9.2\r\n",
        b"HTTP/1.1 200 OK" + b"x" * 20_000,
        b"HTTP/1.1 100 Continue\r\n\r\n" * 20,
    ],
)
def test_what_is_not_an_http_response(head: bytes) -> None:
    with pytest.raises(ValueError):
        parse_response_head(head)


def test_requests_follow_the_url() -> None:
    probe = Probe("http://workspace:13337/healthz?a=1&b=two words#frag")
    assert probe.error is None and probe.port == 13337 and not probe.tls
    assert probe.request.startswith(
        b"GET /healthz?a=1&b=two%20words HTTP/1.1\r\nHost: workspace:13337\r\n"
    )
    assert b"Connection: close\r\n" in probe.request and probe.request.endswith(b"\r\n\r\n")
    probe = Probe("https://Workspace.example")
    assert (probe.port, probe.tls, probe.server_hostname) == (443, True, "workspace.example")
    assert probe.request.startswith(b"GET / HTTP/1.1\r\nHost: Workspace.example\r\n")
    probe = Probe("http://user:p%40ss@[::1]/")
    assert probe.port == 80 and b"Host: [::1]\r\n" in probe.request
    assert b"Authorization: Basic dXNlcjpwQHNz\r\n" in probe.request  # user:p@ss
    assert Probe("http://localhost:99999/").error is not None
    assert Probe("localhost:8080").error is not None
    assert Probe("http:///path").error == "invalid URL: no host"


@given(st.integers(min_value=0, max_value=2**62))
def test_start_phases_fall_within_the_first_interval(key: int) -> None:
    assert 0 < _phase(key) <= 1


@given(
    st.sampled_from([INITIALIZING, HEALTHY, UNHEALTHY]),
    st.integers(min_value=1, max_value=4),
    st.lists(st.booleans(), max_size=30),
)
def test_the_state_machine_follows_the_documentation(
    initial: str, threshold: int, outcomes: list[bool]
) -> None:
    monitor = HealthMonitor(Recorder())
    entry = _Entry(target(1, "http://localhost/", threshold=threshold, state=initial), Probe(""))
    expected = []
    state, failures = initial, 0
    for ok in outcomes:
        monitor._conclude(entry, ok, "status 200" if ok else "status 500")
        if ok:
            failures = 0
            if state != HEALTHY:
                state = HEALTHY
                expected.append((HEALTHY, "status 200"))
        else:
            failures += 1
            if failures >= threshold and state != UNHEALTHY:
                state = UNHEALTHY
                expected.append((UNHEALTHY, "status 500"))
    assert [(t.state, t.reason) for t in monitor._pending] == expected
    assert entry.state == state
    # the same, declaratively: where the outcomes leave the app
    trailing = len(outcomes) - (
        max(i for i, ok in enumerate(outcomes) if ok) + 1 if any(outcomes) else 0
    )
    if trailing >= threshold:
        assert entry.state == UNHEALTHY
    elif any(outcomes):
        assert entry.state == HEALTHY
    else:
        assert entry.state == initial
