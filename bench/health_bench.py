"""Health monitor benchmark: the monitor core (``templater.health``) against a loopback
fleet of apps.

Run by hand: ``python bench/health_bench.py --agents [--agent-count 10] [--apps-per-agent 500]``
measures the checks where they run, in real ``templater agent`` processes of a real ``templater
server``: it starts the server and a loopback fleet, applies each agent's apps into a workspace
of its own through the API, starts the agents, and reports the control plane's and the agents'
CPU, the checks that reached the fleet against those due (a missing one was missed), the lag
measured in the fleet (each check against its app's fixed schedule, whose phase is that of the
app's least delayed check) and the health the server recorded.

``python bench/health_bench.py [--targets 5000] [--interval 5] [--seconds 30]`` (about 90 s with
the ramp; ``--no-ramp`` for the main run only) measures the monitor core alone, and finds the
highest rate it sustains: it imports nothing from the server but ``templater.health``
(the store, API and database writes are not exercised; transitions are counted and dropped).
What it does:

- starts a fleet of apps in separate processes (``--fleet-processes``, by default one less than
  the cores, at least one): asyncio servers on ``--ports`` loopback ports each; a request for a
  path under ``/hang/`` is never answered (the connection stays open until the monitor gives
  up), any other gets ``200``. ``--hang`` of the targets (20% by default) use such a path;
- runs a ``HealthMonitor`` in a process of its own with ``--targets`` targets at ``--interval``
  seconds (URL host ``app-N.invalid``, address 127.0.0.1), all known at start so their first
  checks are spread over the first interval; after one interval and a second of warm-up it
  measures ``--seconds`` (rounded up to whole intervals, so a known number of checks is due);
- reports the monitor process's CPU seconds per second of wall time, the due→sent lag (p50,
  p99, max: from a check's due time to its request being written, after connect), the checks
  due against those started, missed checks (due times that passed without a check), and the
  outcome of the checks;
- with ``--burst``, adds the targets to a running monitor all at once instead, as one big
  apply would (the monitor then spaces their first checks 1 ms apart; without that they would
  all come due together every interval), and warms up for two intervals;
- then, unless ``--no-ramp``, raises the target count at the same interval (``--ramp``) for
  shorter runs until the p99 lag reaches 100 ms or a check is missed, and reports the highest
  rate that met both. The fleet shares the machine's cores, so its CPU is reported too: if it
  is saturated, the limit found is the fleet's, not the monitor's.

Targets (issue 5): no check missed and p99 lag under 100 ms at 5,000 apps every 5 s with 1,000
of them hanging until the timeout. Loopback only; every phase is bounded in time and the
benchmark stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import os
import resource
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, ClassVar

from harness import app, templater_server, tree_cpu_seconds

from templater.health import HealthMonitor, Target, Transition

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


def raise_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of other processes, from /proc (Linux)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


# -- the fleet ---------------------------------------------------------------------------------


class App(asyncio.Protocol):
    """Answers 200 at once, or never for a path under /hang/ (until the client closes).
    ``arrivals`` records when each request for ``/ok/KEY`` or ``/hang/KEY`` came, by key."""

    counts: ClassVar[dict[str, int]] = {"ok": 0, "hang": 0}
    arrivals: ClassVar[list[tuple[int, float]]] = []

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        if b"\r\n\r\n" not in self.buffer:
            return
        request_line = self.buffer.split(b"\r\n", 1)[0]
        self.buffer = b""
        key = request_line.split(b" ")[1].rpartition(b"/")[2]
        if key.isdigit():
            App.arrivals.append((int(key), time.monotonic()))
        if b" /hang/" in request_line:
            App.counts["hang"] += 1
            return
        App.counts["ok"] += 1
        self.transport.write(RESPONSE)
        self.transport.close()

    def eof_received(self) -> bool:
        return False


def fleet_main(ports: int, conn: Connection) -> None:
    raise_file_limit()

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        servers = [
            await loop.create_server(App, "127.0.0.1", 0, backlog=4096) for _ in range(ports)
        ]
        conn.send([server.sockets[0].getsockname()[1] for server in servers])
        stop = asyncio.Event()
        loop.add_reader(conn.fileno(), stop.set)
        await stop.wait()
        loop.remove_reader(conn.fileno())
        conn.recv()
        for server in servers:
            server.close()
        conn.send({"cpu": cpu_seconds(), **App.counts, "arrivals": App.arrivals})

    asyncio.run(serve())


# -- the monitor -------------------------------------------------------------------------------


@dataclass
class Phase:
    targets: int
    interval: int
    seconds: float


def target_url(key: int, host: str, ports: list[int], hang: float) -> str:
    """The URL of target ``key``: ``hang`` of them, evenly spread, are never answered."""
    every = max(1, round(1 / hang)) if hang > 0 else 0
    kind = "hang" if every and key % every == 0 else "ok"
    return f"http://{host}:{ports[key % len(ports)]}/{kind}/{key}"


def make_targets(count: int, interval: int, ports: list[int], hang: float) -> list[Target]:
    return [
        Target(key, url, "127.0.0.1", interval, 3, "initializing")
        for key in range(count)
        for url in [target_url(key, f"app-{key}.invalid", ports, hang)]
    ]


def percentile(samples: list[float], fraction: float) -> float:
    if not samples:
        return math.nan
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run_phase(
    phase: Phase, ports: list[int], hang: float, fleet_pids: list[int], burst: bool
) -> dict[str, Any]:
    transitions = 0

    async def report(batch: list[Transition]) -> None:
        nonlocal transitions
        transitions += len(batch)

    monitor = HealthMonitor(report)
    targets = make_targets(phase.targets, phase.interval, ports, hang)
    if burst:  # all join a running monitor at once: all due at the same instants
        await monitor.start()
        monitor.update(targets)
    else:  # known at start: first checks spread over the first interval
        monitor.update(targets)
        await monitor.start()
    await asyncio.sleep(phase.interval * (2 if burst else 1) + 1.0)  # past the first checks
    intervals = max(1, math.ceil(phase.seconds / phase.interval))
    window = intervals * phase.interval
    monitor.reset_stats()
    cpu0, fleet0, wall0 = cpu_seconds(), process_cpu_seconds(fleet_pids), time.monotonic()
    await asyncio.sleep(window)
    cpu1, fleet1, wall1 = cpu_seconds(), process_cpu_seconds(fleet_pids), time.monotonic()
    stats = monitor.stats()
    started = time.monotonic()
    await monitor.stop()
    stop_seconds = time.monotonic() - started
    send_lags = list(stats.send_lags)
    dispatch_lags = list(stats.dispatch_lags)
    return {
        "targets": phase.targets,
        "interval": phase.interval,
        "window": wall1 - wall0,
        "cpu_per_second": (cpu1 - cpu0) / (wall1 - wall0),
        "fleet_cpu_per_second": (fleet1 - fleet0) / (wall1 - wall0),
        "due": phase.targets * intervals,
        "started": stats.checks_started,
        "sent": stats.requests_sent,
        "missed": stats.missed,
        "successes": stats.successes,
        "failures": stats.failures,
        "timeouts": stats.timeouts,
        "send_p50": percentile(send_lags, 0.50),
        "send_p99": percentile(send_lags, 0.99),
        "send_max": max(send_lags, default=math.nan),
        "dispatch_p50": percentile(dispatch_lags, 0.50),
        "dispatch_p99": percentile(dispatch_lags, 0.99),
        "transitions": transitions,
        "stop_seconds": stop_seconds,
    }


def monitor_main(
    phases: list[Phase],
    ports: list[int],
    hang: float,
    fleet_pids: list[int],
    burst: bool,
    conn: Connection,
) -> None:
    raise_file_limit()

    async def run() -> None:
        for phase in phases:
            result = await run_phase(phase, ports, hang, fleet_pids, burst)
            conn.send(result)
            if not passes(result):
                break
        conn.send(None)

    asyncio.run(run())


def passes(result: dict[str, Any]) -> bool:
    return bool(result["missed"] == 0 and result["send_p99"] < 0.100)


# -- orchestration -----------------------------------------------------------------------------


def show(result: dict[str, Any]) -> None:
    rate = result["targets"] / result["interval"]
    ms = 1000.0
    print(
        f"  {result['targets']:>6} targets every {result['interval']} s ({rate:,.0f} checks/s), "
        f"{result['window']:.0f} s measured"
    )
    print(f"    monitor CPU: {result['cpu_per_second']:.3f} s per s of wall time")
    print(
        f"    due→sent lag: p50 {result['send_p50'] * ms:.1f} ms, "
        f"p99 {result['send_p99'] * ms:.1f} ms, max {result['send_max'] * ms:.1f} ms "
        f"(due→started p50 {result['dispatch_p50'] * ms:.2f} ms, "
        f"p99 {result['dispatch_p99'] * ms:.2f} ms)"
    )
    print(
        f"    checks due {result['due']:,}, started {result['started']:,}, "
        f"requests sent {result['sent']:,}, missed {result['missed']:,}"
    )
    print(
        f"    outcomes: {result['successes']:,} successes, {result['failures']:,} failures "
        f"({result['timeouts']:,} timeouts); stop() took {result['stop_seconds'] * ms:.1f} ms"
    )
    print(
        f"    fleet CPU: {result['fleet_cpu_per_second']:.3f} s per s of wall time "
        "(all fleet processes together)"
    )
    verdict = "meets" if passes(result) else "MISSES"
    print(f"    {verdict} the target (no check missed, p99 lag < 100 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=5000)
    parser.add_argument("--interval", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--hang", type=float, default=0.2, help="share of targets that hang")
    parser.add_argument("--ports", type=int, default=50, help="ports per fleet process")
    parser.add_argument("--fleet-processes", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    parser.add_argument(
        "--ramp",
        default="10000,15000,20000,30000",
        help="target counts tried after the main run, at the same interval",
    )
    parser.add_argument("--ramp-seconds", type=float, default=10.0)
    parser.add_argument("--no-ramp", action="store_true")
    parser.add_argument(
        "--burst",
        action="store_true",
        help="add the targets to a running monitor at once (one big apply) instead of before "
        "start: every target is then due at the same instants",
    )
    args = parser.parse_args()

    context = multiprocessing.get_context("spawn")
    fleet = []
    ports: list[int] = []
    for _ in range(args.fleet_processes):
        parent, child = context.Pipe()
        process = context.Process(target=fleet_main, args=(args.ports, child), daemon=True)
        process.start()
        fleet.append((process, parent))
        ports.extend(parent.recv())

    phases = [Phase(args.targets, args.interval, args.seconds)]
    if not args.no_ramp:
        phases += [
            Phase(int(count), args.interval, args.ramp_seconds)
            for count in args.ramp.split(",")
            if int(count) > args.targets
        ]
    print(
        f"health monitor core (templater.health), {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}, {args.fleet_processes} fleet process(es) "
        f"x {args.ports} ports, {args.hang:.0%} of targets hang until the timeout; "
        f"load average before the run {os.getloadavg()[0]:.2f} (other work skews the lag)"
    )
    parent, child = context.Pipe()
    fleet_pids = [process.pid for process, _ in fleet if process.pid is not None]
    monitor = context.Process(
        target=monitor_main, args=(phases, ports, args.hang, fleet_pids, args.burst, child)
    )
    fleet_cpu0 = time.monotonic()
    monitor.start()
    results = []
    best: dict[str, Any] | None = None
    deadline = time.monotonic() + sum(p.interval * 3 + p.seconds + 30 for p in phases)
    while time.monotonic() < deadline:
        if not parent.poll(max(0.0, deadline - time.monotonic())):
            break
        result = parent.recv()
        if result is None:
            break
        results.append(result)
        print("main run:" if len(results) == 1 else "ramp:")
        show(result)
        if passes(result) and (best is None or result["targets"] > best["targets"]):
            best = result
    monitor.join(timeout=10)
    if monitor.is_alive():
        monitor.terminate()
    wall = time.monotonic() - fleet_cpu0

    fleet_cpu = 0.0
    requests = {"ok": 0, "hang": 0}
    for process, pipe in fleet:
        pipe.send("stop")
        counts = pipe.recv()
        fleet_cpu += counts["cpu"]
        requests["ok"] += counts["ok"]
        requests["hang"] += counts["hang"]
        process.join(timeout=5)
    print(
        f"fleet: {requests['ok']:,} requests answered, {requests['hang']:,} left hanging; "
        f"fleet CPU {fleet_cpu / wall:.3f} s per s over the whole run"
    )
    if best is not None:
        rate = best["targets"] / best["interval"]
        print(
            f"highest rate meeting the target: {rate:,.0f} checks/s "
            f"({best['targets']:,} targets every {best['interval']} s, "
            f"p99 lag {best['send_p99'] * 1000:.1f} ms)"
        )
        tried = [r for r in results if not passes(r)]
        if not tried and not args.no_ramp:
            print("  (every rate tried met the target; raise --ramp to find the limit)")
    else:
        print("no run met the target")


def fleet_lags(
    arrivals: list[tuple[int, float]], keys: int, start: float, intervals: int, interval: int
) -> tuple[list[float], int, int]:
    """From when checks of targets ``0..keys-1`` reached the fleet in ``intervals`` intervals
    from ``start``: each check's lag behind its target's schedule, the checks that came, and the
    due checks that never came. A target is checked at a fixed rate, so its schedule is its
    arrivals' least delayed phase: the lag of a check is how much later than that it came."""
    end = start + intervals * interval
    by_key: dict[int, list[float]] = {}
    for key, when in arrivals:
        if start <= when < end:
            by_key.setdefault(key, []).append(when)
    lags: list[float] = []
    for times in by_key.values():
        first = min(times)
        offsets = [when - first - round((when - first) / interval) * interval for when in times]
        least = min(offsets)
        lags.extend(offset - least for offset in offsets)
    came = sum(len(times) for times in by_key.values())
    missed = sum(max(0, intervals - len(by_key.get(key, []))) for key in range(keys))
    return lags, came, missed


def agents_main() -> None:
    """``--agents``: the checks run by real ``templater agent`` processes of a real ``templater
    server``, each agent with its share of the apps; lag and misses measured where the checks
    arrive, in the fleet."""
    parser = argparse.ArgumentParser(description="health checks run by templater agents")
    parser.add_argument("--agents", action="store_true")
    parser.add_argument("--agent-count", type=int, default=10)
    parser.add_argument("--apps-per-agent", type=int, default=500)
    parser.add_argument("--interval", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--hang", type=float, default=0.2)
    parser.add_argument("--ports", type=int, default=50)
    args = parser.parse_args()

    raise_file_limit()
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    fleet = context.Process(target=fleet_main, args=(args.ports, child), daemon=True)
    fleet.start()
    ports: list[int] = parent.recv()
    total = args.agent_count * args.apps_per_agent
    intervals = max(1, math.ceil(args.seconds / args.interval))
    with ExitStack() as stack:
        root = Path(stack.enter_context(TemporaryDirectory(prefix="health-bench-")))
        room = (
            "--max-apps-per-workspace",
            str(args.apps_per_agent),
            "--max-checks-per-second",
            str(math.ceil(args.apps_per_agent / args.interval)),
        )
        server = stack.enter_context(templater_server(root, *room))
        for number in range(args.agent_count):
            apps = []
            for index in range(args.apps_per_agent):
                url = target_url(
                    number * args.apps_per_agent + index, "127.0.0.1", ports, args.hang
                )
                check = {"url": url, "interval": args.interval, "threshold": 3}
                apps.append(app(f"app-{index}", url, share="owner", healthcheck=check))
            server.apply(f"fleet-{number}", apps)
        agents = [server.start_agent(stack, f"fleet-{n}") for n in range(args.agent_count)]
        # One interval for the first checks (spread over it), one more to settle, then measure.
        time.sleep(2 * args.interval + 1)
        start = time.monotonic()
        plane0 = tree_cpu_seconds(server.process.pid)
        agents0 = process_cpu_seconds(agents)
        time.sleep(intervals * args.interval)
        wall = time.monotonic() - start
        plane = (tree_cpu_seconds(server.process.pid) - plane0) / wall
        agent_cpu = (process_cpu_seconds(agents) - agents0) / wall
        health: dict[str, int] = {}
        for record in server.call("GET", "/api/v1/apps"):
            health[record["health"]] = health.get(record["health"], 0) + 1
        parent.send("stop")
        finished = parent.recv()
        fleet.join(timeout=5)
    lags, came, missed = fleet_lags(finished["arrivals"], total, start, intervals, args.interval)
    due = total * intervals
    hanging = sum(1 for key in range(total) if "/hang/" in target_url(key, "h", ports, args.hang))
    ms = 1000.0
    print(
        f"templater server with {args.agent_count} agents x {args.apps_per_agent} apps = "
        f"{total:,} apps every {args.interval} s ({total / args.interval:,.0f} checks/s), "
        f"{hanging:,} hanging until the timeout; {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.2f}; {wall:.0f} s measured"
    )
    print(f"  control plane CPU  {plane:.3f} s per s of wall time (the health reports it stores)")
    print(
        f"  agents' CPU        {agent_cpu:.3f} s per s, all {args.agent_count} together "
        f"({agent_cpu / args.agent_count * 1000:.0f} ms per s each)"
    )
    print(f"  checks             {came:,} reached the fleet of {due:,} due")
    print(f"  missed             {missed:,}   (target 0)")
    print(
        f"  lag (fleet side)   p50 {percentile(lags, 0.5) * ms:.1f} ms, "
        f"p99 {percentile(lags, 0.99) * ms:.1f} ms, max {max(lags, default=math.nan) * ms:.1f} ms"
        "   (target p99 < 100 ms; behind each app's own least delayed check)"
    )
    print(
        f"  health recorded    {', '.join(f'{n:,} {state}' for state, n in sorted(health.items()))}"
    )
    verdict = "meets" if missed == 0 and percentile(lags, 0.99) < 0.100 else "MISSES"
    print(f"  {verdict} the target (no check missed, p99 lag < 100 ms)")


if __name__ == "__main__":
    agents_main() if "--agents" in sys.argv else main()
