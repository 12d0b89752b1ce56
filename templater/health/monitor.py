"""The health monitor's core (SPEC §8): one scheduler that sends every app's healthcheck and
applies the documented state machine. Pure asyncio: no database and no HTTP framework here; the
agent hands it the targets (``update``) and sends the transitions it reports to the control
plane, which stores them.

How it works:

- One heap of due times and one timer armed for the earliest (``loop.call_at``). There is no
  sleeping task per target and no pool of in-flight slots: a target that hangs holds its own
  connection until its own deadline, and nobody else's (SPEC §10).
- A check is one ``GET`` to the target's ``address`` (in the agent, the URL's own host) at the
  URL's port, with the URL's ``host[:port]`` as the ``Host`` header and ``Connection: close``. Only the
  response head is read, up to the status line of the final response (1xx interim responses are
  skipped); never the body. A status < 500 is a success, so a redirect (3xx) is a success and is
  not followed. Plain HTTP runs on a non-blocking socket driven by the event loop's
  ``add_writer``/``add_reader`` callbacks (no task per check: on this kind of machine that halves
  the CPU per check against ``asyncio.open_connection`` and keeps the lag of a busy loop low);
  HTTPS uses ``asyncio.open_connection`` with TLS verification off, since workspace apps commonly
  use self-signed certificates.
- A check's deadline is its due time plus min(interval, 10 s), covering name resolution,
  connect, TLS and the response head. Since the timeout never exceeds the interval, each check's
  result is known when the next check of the same target comes due: if the timeout has not yet
  been delivered then (both fall on the same instant when the timeout is the interval), the old
  check is concluded as a timeout there and then. So no check is ever skipped because its
  predecessor is still in flight.
- ``missed`` counts due times that passed without a check: only when the event loop falls a
  whole interval behind (blocked or overloaded) are the lost intervals skipped rather than fired
  in a burst; and checks not made for want of local resources (file descriptors, or
  ``max_in_flight``), which are not counted as the app's failures.
- Targets given before ``start()`` (the persisted set) have their first check spread over their
  first interval by a hash of the key. A target that joins later is first checked one interval
  after it joins; when many join in one ``update`` (one big apply), the n-th of them is first
  checked n ms later than that (modulo the interval), or they would all come due together every
  interval for good (5,000 targets joining at once otherwise give a due→sent lag of about 1 s at
  every round on this machine). From then on each target is checked every ``interval`` seconds
  at a fixed rate (due times do not drift with lag). At most 100 checks start per loop
  iteration, so that a burst never holds up the event loop.
- Transitions are collected and handed to ``report`` in batches, one call at a time, at most
  every ``batch_window`` seconds, from a task of its own so that a slow ``report`` never delays
  a check. A ``report`` that raises is logged, and its batch is dropped.

Use from the event loop's thread only.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import functools
import heapq
import logging
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime

from templater.health.targets import (
    HEALTHY,
    INITIALIZING,
    STATES,
    UNHEALTHY,
    HealthStats,
    Target,
    Transition,
    timeout,
    timeout_reason,
)
from templater.health.wire import (
    HEAD_LIMIT,
    LOCAL_ERRNOS,
    CannotResolve,
    Probe,
    errno_reason,
    is_ip,
    parse_response_head,
    reason_for,
)

__all__ = ["HealthMonitor"]

logger = logging.getLogger(__name__)

_DNS_TTL = 30.0  # seconds a resolved agent host name is reused
_DNS_NEGATIVE_TTL = 5.0  # seconds a failed resolution is reused
_LAG_SAMPLES = 200_000  # lag samples kept for stats()
_EARLY = 0.0005  # a timer may fire this early; checks due within it are sent
_PER_FIRE = 100  # checks started per loop iteration at most: a burst never blocks the loop
_JOIN_SPACING = 0.001  # seconds between the first checks of targets that join together


def _phase(key: int) -> float:
    """A fraction in (0, 1], well spread over consecutive keys (Fibonacci hashing)."""
    return 1.0 - ((key * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF) / 2.0**64


# -- the monitor -------------------------------------------------------------------------------


class _Entry:
    """A target and what the monitor knows of it."""

    __slots__ = ("check", "failures", "next_due", "probe", "state", "target")

    def __init__(self, target: Target, probe: Probe) -> None:
        self.target = target
        self.probe = probe
        self.state = _known_state(target)
        self.failures = 0
        self.next_due: float | None = None
        self.check: _Check | None = None


def _known_state(target: Target) -> str:
    if target.state in STATES:
        return target.state
    logger.warning("health: app %d has an unknown state %r", target.key, target.state)
    return INITIALIZING


class HealthMonitor:
    """Checks every target at its interval and reports the changes of state in batches."""

    def __init__(
        self,
        report: Callable[[list[Transition]], Awaitable[None]],
        *,
        clock: Callable[[], float] = time.monotonic,
        max_in_flight: int | None = None,
        batch_window: float = 0.05,
        flush_timeout: float = 1.0,
    ) -> None:
        """``report`` receives the transitions in order, a batch at a time. ``clock`` is the
        monotonic clock due times are kept in; it must tick in seconds like the loop's.
        ``max_in_flight``, if set, caps the connections held at once as a safety valve: a check
        that comes due beyond it is not made and counts as missed (there is no queue, and no
        slot is shared in turn). ``stop()`` waits at most ``flush_timeout`` seconds for
        ``report`` to take the last transitions."""
        self._report = report
        self._clock = clock
        self._max_in_flight = max_in_flight
        self._batch_window = batch_window
        self._flush_timeout = flush_timeout
        self._entries: dict[int, _Entry] = {}
        self._probes: dict[str, Probe] = {}
        self._heap: list[tuple[float, int, _Entry]] = []
        self._seq = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due = 0.0
        self._running = False
        self._stopped = False
        self._pending: list[Transition] = []
        self._wake: asyncio.Event | None = None
        self._reporter: asyncio.Task[None] | None = None
        self._nap: asyncio.Future[None] | None = None
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self._tls.check_hostname = False
        self._tls.verify_mode = ssl.CERT_NONE  # workspace apps commonly use self-signed certs
        self._tls.set_alpn_protocols(["http/1.1"])
        self._dns: dict[str, tuple[float, asyncio.Future[list[str]]]] = {}
        self._in_flight: set[_Check] = set()
        self._shortage_logged = 0.0
        self._reset_counters()

    # -- public API ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start checking. Targets already given are first checked within their first
        interval, spread by key."""
        if self._running or self._stopped:
            raise RuntimeError("a HealthMonitor starts once")
        self._loop = asyncio.get_running_loop()
        self._running = True
        self._wake = asyncio.Event()
        self._reporter = self._loop.create_task(self._report_loop(), name="health-report")
        now = self._clock()
        for entry in self._entries.values():
            if entry.target.interval >= 1:
                self._schedule(entry, now + entry.target.interval * _phase(entry.target.key))
        self._arm()

    async def stop(self) -> None:
        """Stop checking: cancel every check in flight at once, then hand ``report`` the last
        transitions (waiting at most ``flush_timeout`` seconds for it)."""
        was_running, self._running, self._stopped = self._running, False, True
        if not was_running:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._heap.clear()
        for entry in self._entries.values():
            entry.next_due = None
            entry.check = None
        tasks = [task for check in list(self._in_flight) if (task := check.cancel()) is not None]
        for _, future in self._dns.values():
            future.cancel()
        self._dns.clear()
        if tasks:
            await asyncio.wait(tasks)
        reporter = self._reporter
        if reporter is not None and self._wake is not None:
            self._wake.set()
            if self._nap is not None:
                _settle(self._nap)
            done, _ = await asyncio.wait([reporter], timeout=self._flush_timeout)
            if not done:
                reporter.cancel()
                await asyncio.wait([reporter])
                if self._pending:
                    logger.warning("health: %d transitions were not reported", len(self._pending))

    def update(self, targets: Iterable[Target]) -> None:
        """Replace the whole set of targets (by key). A new one is first checked one interval
        from now (plus 1 ms for each target that joined before it in the same update, modulo
        the interval); a removed one leaves at once (a check in flight is cancelled, never
        reported); a changed one keeps its next check where it is, and the one after follows
        the new interval. A changed healthcheck (url, interval or threshold) starts over from
        the state given, and a check of the old one still in flight is cancelled; a changed
        address alone keeps the state, and the check in flight."""
        now = self._clock()
        joining = 0
        new: dict[int, Target] = {target.key: target for target in targets}
        for key in [key for key in self._entries if key not in new]:
            self._unschedule(self._entries.pop(key))
        for key, target in new.items():
            entry = self._entries.get(key)
            if entry is not None and entry.target == target:
                continue
            if entry is not None and entry.target.interval >= 1 and target.interval >= 1:
                old, entry.target = entry.target, target  # the next check stays where it is
                entry.probe = self._probe(target.url)
                if (old.url, old.interval, old.threshold) != (
                    target.url,
                    target.interval,
                    target.threshold,
                ):  # a new healthcheck starts over, as the store resets it
                    entry.state = _known_state(target)
                    entry.failures = 0
                    if entry.check is not None:  # the old healthcheck's: not reported
                        entry.check.cancel()
                        entry.check = None
                continue
            if entry is not None:
                self._unschedule(entry)
            entry = self._entries[key] = _Entry(target, self._probe(target.url))
            if target.interval < 1:
                logger.warning("health: app %d has interval %d: not checked", key, target.interval)
            elif self._running:  # spaced, so that many joining at once do not stay together
                offset = (joining * _JOIN_SPACING) % target.interval
                self._schedule(entry, now + target.interval + offset)
                joining += 1
        if self._running:
            if len(self._heap) > 2 * len(self._entries) + 64:
                self._compact()
            self._arm()

    def states(self) -> dict[int, str]:
        """Every target's current state, by key."""
        return {key: entry.state for key, entry in self._entries.items()}

    def stats(self) -> HealthStats:
        return HealthStats(
            targets=len(self._entries),
            in_flight=len(self._in_flight),
            checks_started=self._started,
            requests_sent=self._sent,
            successes=self._successes,
            failures=self._failures,
            timeouts=self._timeouts,
            missed=self._missed,
            transitions=self._transitions,
            report_errors=self._report_errors,
            dispatch_lags=tuple(self._dispatch_lags),
            send_lags=tuple(self._send_lags),
        )

    def reset_stats(self) -> None:
        """Zero the counters and drop the lag samples, to measure from now on."""
        self._reset_counters()

    # -- scheduling ---------------------------------------------------------------------------

    def _reset_counters(self) -> None:
        self._started = self._sent = self._successes = self._failures = self._timeouts = 0
        self._missed = self._transitions = self._report_errors = 0
        self._dispatch_lags: collections.deque[float] = collections.deque(maxlen=_LAG_SAMPLES)
        self._send_lags: collections.deque[float] = collections.deque(maxlen=_LAG_SAMPLES)

    def _probe(self, url: str) -> Probe:
        probe = self._probes.get(url)
        if probe is None:
            if len(self._probes) > 2 * len(self._entries) + 1024:
                self._probes.clear()
            probe = self._probes[url] = Probe(url)
        return probe

    def _schedule(self, entry: _Entry, due: float) -> None:
        entry.next_due = due
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, entry))

    def _unschedule(self, entry: _Entry) -> None:
        entry.next_due = None  # its heap item is stale from now on
        if entry.check is not None:
            entry.check.cancel()
            entry.check = None

    def _compact(self) -> None:
        self._heap = [item for item in self._heap if item[2].next_due == item[0]]
        heapq.heapify(self._heap)

    def _arm(self) -> None:
        """Set the timer for the earliest due check."""
        assert self._loop is not None
        heap = self._heap
        while heap and heap[0][2].next_due != heap[0][0]:
            heapq.heappop(heap)  # a removed target, or a due time already moved on
        if not heap:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            return
        due = heap[0][0]
        if self._timer is not None:
            if self._timer_due <= due:
                return
            self._timer.cancel()
        self._timer_due = due
        self._timer = self._loop.call_at(self._loop.time() + (due - self._clock()), self._fire)

    def _fire(self) -> None:
        self._timer = None
        if not self._running:
            return
        now = self._clock()
        heap = self._heap
        started = 0
        while heap and heap[0][0] <= now + _EARLY and started < _PER_FIRE:
            due, _, entry = heapq.heappop(heap)
            if entry.next_due == due:
                self._dispatch(entry, due, now)
                started += 1
        self._arm()  # if more are due, the timer fires again in the next loop iteration

    def _dispatch(self, entry: _Entry, due: float, now: float) -> None:
        assert self._loop is not None
        target = entry.target
        interval = target.interval
        if now - due >= interval:  # the loop fell behind: skip the lost intervals
            lost = int((now - due) // interval)
            self._missed += lost
            due += lost * interval
        self._schedule(entry, due + interval)
        previous = entry.check
        if previous is not None:  # at its deadline by construction: conclude it as a timeout
            entry.check = None
            previous.cancel()
            self._conclude(entry, False, timeout_reason(previous.target), timeout=True)
        if self._max_in_flight is not None and len(self._in_flight) >= self._max_in_flight:
            self._missed += 1
            return
        self._started += 1
        self._dispatch_lags.append(now - due)
        deadline = self._loop.time() + (due + timeout(target) - now)
        check = _Check(self, entry, due, deadline)
        entry.check = check
        check.start()

    def _finished(self, check: _Check, ok: bool, reason: str, timeout: bool) -> None:
        """A check's outcome; dropped if the check was superseded or its target removed."""
        entry = check.entry
        if entry.check is check:
            entry.check = None
            self._conclude(entry, ok, reason, timeout=timeout)

    def _short_of_resources(self, check: _Check, exc: BaseException) -> None:
        """A check the monitor could not make (no file descriptor, say): not the app's
        failure; counted as missed."""
        if check.entry.check is check:
            check.entry.check = None
        self._started -= 1
        self._missed += 1
        now = self._clock()
        if now - self._shortage_logged > 10.0:
            self._shortage_logged = now
            logger.warning("health: checks are being missed: %s", exc)

    # -- the state machine --------------------------------------------------------------------

    def _conclude(self, entry: _Entry, ok: bool, reason: str, *, timeout: bool = False) -> None:
        if ok:
            self._successes += 1
            entry.failures = 0
            if entry.state != HEALTHY:
                self._transition(entry, HEALTHY, reason)
        else:
            self._failures += 1
            self._timeouts += timeout
            entry.failures += 1
            if entry.failures >= entry.target.threshold and entry.state != UNHEALTHY:
                self._transition(entry, UNHEALTHY, reason)

    def _transition(self, entry: _Entry, state: str, reason: str) -> None:
        change = Transition(entry.target.key, state, reason, datetime.now(UTC), entry.state)
        entry.state = state
        self._pending.append(change)
        if self._wake is not None:
            self._wake.set()

    async def _report_loop(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            if self._running:  # gather what else comes meanwhile (stop() cuts this short)
                assert self._loop is not None
                self._nap = nap = self._loop.create_future()
                handle = self._loop.call_later(self._batch_window, _settle, nap)
                try:
                    await nap
                finally:
                    handle.cancel()
                    self._nap = None
            self._wake.clear()
            batch, self._pending = self._pending, []
            if batch:
                try:
                    await self._report(batch)
                    self._transitions += len(batch)
                except Exception:
                    self._report_errors += 1
                    logger.exception("health: reporting %d transitions failed", len(batch))
            if not self._running and not self._pending:
                return

    # -- name resolution ----------------------------------------------------------------------

    def _hosts(self, address: str) -> list[str] | asyncio.Future[list[str]]:
        """The IP addresses of a target's ``address``: an IP as it is; a host name resolved once per
        ``_DNS_TTL`` for every check of that agent (so that checks do not queue on the
        resolver's threads), as a future while it resolves."""
        if is_ip(address):
            return [address]
        now = self._clock()
        cached = self._dns.get(address)
        if cached is not None and cached[0] > now:
            future = cached[1]
        else:
            assert self._loop is not None
            future = self._loop.create_task(self._lookup(address))
            self._dns[address] = (float("inf"), future)
            future.add_done_callback(functools.partial(self._resolved, address))
        if future.done() and not future.cancelled() and future.exception() is None:
            return future.result()
        return future

    async def _lookup(self, address: str) -> list[str]:
        assert self._loop is not None
        try:
            infos = await self._loop.getaddrinfo(address, None, type=socket.SOCK_STREAM)
        except (OSError, ValueError) as exc:  # socket.gaierror, or a name IDNA cannot encode
            raise CannotResolve(f"cannot resolve {address}") from exc
        return list(dict.fromkeys(str(info[4][0]) for info in infos))

    def _resolved(self, address: str, future: asyncio.Future[list[str]]) -> None:
        cached = self._dns.get(address)
        if cached is None or cached[1] is not future:
            return
        if future.cancelled():
            del self._dns[address]
            return
        failed = future.exception() is not None  # retrieved: no "never retrieved" warning
        self._dns[address] = (self._clock() + (_DNS_NEGATIVE_TTL if failed else _DNS_TTL), future)


# -- one check ---------------------------------------------------------------------------------


class _Check:
    """One GET in flight. Plain HTTP: a non-blocking socket on loop callbacks; HTTPS: a task on
    asyncio streams. Either way it ends by ``_finish`` (reported) or ``cancel`` (not)."""

    __slots__ = (
        "buffer",
        "deadline",
        "due",
        "entry",
        "fd",
        "hosts",
        "loop",
        "monitor",
        "outgoing",
        "probe",
        "reading",
        "resolving",
        "sock",
        "target",
        "task",
        "timer",
        "writing",
    )

    def __init__(self, monitor: HealthMonitor, entry: _Entry, due: float, deadline: float) -> None:
        assert monitor._loop is not None
        self.monitor = monitor
        self.loop = monitor._loop
        self.entry = entry
        self.target = entry.target
        self.probe = entry.probe
        self.due = due
        self.deadline = deadline
        self.timer: asyncio.TimerHandle | None = None
        self.task: asyncio.Task[None] | None = None
        self.resolving: asyncio.Future[list[str]] | None = None
        self.sock: socket.socket | None = None
        self.fd = -1
        self.reading = self.writing = False
        self.hosts: list[str] = []
        self.outgoing = self.probe.request
        self.buffer = b""

    def start(self) -> None:
        self.monitor._in_flight.add(self)
        if self.probe.error is not None:
            self._finish(False, self.probe.error)
            return
        self.timer = self.loop.call_at(self.deadline, self._on_timeout)
        if self.probe.tls:
            self.task = self.loop.create_task(self._run_tls())
            return
        hosts = self.monitor._hosts(self.target.address)
        if isinstance(hosts, list):
            self.hosts = list(hosts)
            self._connect()
        else:
            self.resolving = hosts
            hosts.add_done_callback(self._on_resolved)

    def cancel(self) -> asyncio.Task[None] | None:
        """End without an outcome; the task to wait for, if any."""
        task = self.task
        self._close()
        if task is not None and not task.done():
            task.cancel()
            return task
        return None

    def _finish(self, ok: bool, reason: str, timeout: bool = False) -> None:
        if self not in self.monitor._in_flight:
            return
        self._close()
        self.monitor._finished(self, ok, reason, timeout)

    def _close(self) -> None:
        self.monitor._in_flight.discard(self)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.resolving is not None:
            self.resolving.remove_done_callback(self._on_resolved)
            self.resolving = None
        self._close_socket()
        if self.task is not None and not self.task.done() and self.task is not _current_task():
            self.task.cancel()
        self.task = None

    def _close_socket(self) -> None:
        if self.sock is not None:
            if self.reading:
                self.loop.remove_reader(self.fd)
            if self.writing:
                self.loop.remove_writer(self.fd)
            self.reading = self.writing = False
            self.sock.close()
            self.sock = None

    def _on_timeout(self) -> None:
        self.timer = None
        self._finish(False, timeout_reason(self.target), timeout=True)

    def _on_resolved(self, future: asyncio.Future[list[str]]) -> None:
        self.resolving = None
        if future.cancelled():
            self._finish(False, f"cannot resolve {self.target.address}")
            return
        exc = future.exception()
        if exc is not None:
            self._finish(False, str(exc) if isinstance(exc, CannotResolve) else reason_for(exc))
            return
        self.hosts = list(future.result())
        self._connect()

    def _connect(self) -> None:
        """Connect to the next of ``hosts``."""
        if not self.hosts:
            self._finish(False, f"cannot resolve {self.target.address}")
            return
        host = self.hosts.pop(0)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            self.sock = sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError as exc:
            if exc.errno in LOCAL_ERRNOS:
                self._close()
                self.monitor._short_of_resources(self, exc)
                return
            self._finish(False, reason_for(exc))
            return
        self.fd = sock.fileno()
        sock.setblocking(False)
        try:
            code = sock.connect_ex((host, self.probe.port))
        except OSError as exc:  # e.g. a malformed address
            code = exc.errno or errno.EINVAL
        if code == 0:
            self._send()
        elif code == errno.EINPROGRESS:
            self.loop.add_writer(self.fd, self._on_connected)
            self.writing = True
        else:
            self._connect_failed(code)

    def _connect_failed(self, code: int) -> None:
        if self.hosts:  # try the host's next address
            self._close_socket()
            self._connect()
        else:
            self._finish(False, errno_reason(code))

    def _on_connected(self) -> None:
        assert self.sock is not None
        self.loop.remove_writer(self.fd)
        self.writing = False
        code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self._connect_failed(code)
        else:
            self._send()

    def _send(self) -> None:
        assert self.sock is not None
        try:
            sent = self.sock.send(self.outgoing)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            self._finish(False, reason_for(exc))
            return
        self.outgoing = self.outgoing[sent:]
        if self.outgoing:  # rare: the rest when the socket can take it
            if not self.writing:
                self.loop.add_writer(self.fd, self._send)
                self.writing = True
            return
        if self.writing:
            self.loop.remove_writer(self.fd)
            self.writing = False
        self.monitor._sent += 1
        self.monitor._send_lags.append(self.monitor._clock() - self.due)
        self.loop.add_reader(self.fd, self._on_readable)
        self.reading = True

    def _on_readable(self) -> None:
        assert self.sock is not None
        try:
            data = self.sock.recv(HEAD_LIMIT)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._finish(False, reason_for(exc))
            return
        if not data:
            self._finish(
                False,
                "invalid HTTP response" if self.buffer else "connection closed without a response",
            )
            return
        self.buffer += data
        self._parse()

    def _parse(self) -> None:
        try:
            status = parse_response_head(self.buffer)
        except ValueError:
            self._finish(False, "invalid HTTP response")
            return
        if status is not None:
            self._finish(status < 500, f"status {status}")

    async def _run_tls(self) -> None:
        writer: asyncio.StreamWriter | None = None
        try:
            hosts = self.monitor._hosts(self.target.address)
            if not isinstance(hosts, list):
                hosts = await asyncio.shield(hosts)
            reader, writer = await self._open_tls(hosts)
            writer.write(self.probe.request)
            self.monitor._sent += 1
            self.monitor._send_lags.append(self.monitor._clock() - self.due)
            while True:
                data = await reader.read(HEAD_LIMIT)
                if not data:
                    raise asyncio.IncompleteReadError(self.buffer, None)
                self.buffer += data
                status = parse_response_head(self.buffer)
                if status is not None:
                    break
        except asyncio.CancelledError:
            raise
        except CannotResolve as exc:
            self._finish(False, str(exc))
        except asyncio.IncompleteReadError:
            reason = (
                "invalid HTTP response" if self.buffer else "connection closed without a response"
            )
            self._finish(False, reason)
        except ValueError:
            self._finish(False, "invalid HTTP response")
        except OSError as exc:
            if exc.errno in LOCAL_ERRNOS:
                self._close()
                self.monitor._short_of_resources(self, exc)
            else:
                self._finish(False, reason_for(exc))
        except Exception as exc:  # a check never raises into the monitor
            logger.exception("health: the check of app %d failed unexpectedly", self.target.key)
            self._finish(False, f"check failed: {type(exc).__name__}")
        else:
            self._finish(status < 500, f"status {status}")
        finally:
            if writer is not None:
                writer.transport.abort()

    async def _open_tls(
        self, hosts: list[str]
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        error: OSError | None = None
        for host in hosts:
            try:
                return await asyncio.open_connection(
                    host,
                    self.probe.port,
                    ssl=self.monitor._tls,
                    server_hostname=self.probe.server_hostname,
                    limit=HEAD_LIMIT,
                )
            except OSError as exc:
                error = error or exc
        assert error is not None
        raise error


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _current_task() -> asyncio.Task[object] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None
