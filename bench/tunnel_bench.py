"""Tunnel benchmark: bytes between a client and an app in a workspace over a raw loopback
connection, through the router as it was before agents (it dialled the app itself), and through
the router and the workspace's agent, in one run (SPEC §10 and §11).

Run by hand: ``python bench/tunnel_bench.py [--rounds 3] [--megabytes 256] [--streams 300]
[--seconds 5]`` (about two minutes). What it does:

- one process each for the client, the app, the control plane (``templater server --workers 1``)
  and the agent; the app is an asyncio server on uvloop with four paths: ``/bulk/N`` (N bytes),
  ``/close`` (100 bytes, then it closes the connection), ``/echo`` (a POST's body back) and
  ``/hold`` (a chunked response that never ends);
- targets: ``raw``, the client connected to the app itself; ``direct``, the router of commit
  ``BASELINE`` (the last one that dialled apps at an agent address: the design before §11), run
  from a ``git archive`` of that commit; ``agent``, today's router, reaching the app only through
  a stream from a real ``templater agent``;
- measures, the targets interleaved and their order rotated each round: **bulk**, one GET of
  ``--megabytes`` read as fast as the client can; **core-bound**, the same bytes over the CPU
  seconds of the busiest process (the throughput if each process had a core of its own); the
  **CPU per MB** of the control plane and of the agent during bulk; a **new stream**, a new
  client connection and a GET the app answers and closes (so every request needs a new
  upstream connection: for ``agent`` a request on the control channel, the agent dialling the
  app and then the control plane), ``--streams`` times, p50 and p99; and **50 x 1 KB**, 50
  connections each POSTing 1 KB and reading 1 KB back for ``--seconds``, requests per second and
  p99;
- and the agent's memory (RSS and PSS, from /proc): idle, with 100 open streams (``/hold``
  responses in progress through it) and after they close, before the rounds and after them;
- prints medians over the rounds, ratios to ``raw`` and the targets of issue 12.

Every process and the scratch directory are removed at the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import resource
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

import uvloop
from harness import (
    BulkService,
    app,
    checkout,
    descendants,
    memory_kib,
    run_main,
    serve_in_process,
    templater_server,
)

BASELINE = "cc4fb39"
"""The last commit whose router dialled an app itself, at the agent address of the apply."""

HOST = "app--bench--admin.apps.localhost"
SMALL = b"x" * 100
ECHO_BYTES = 1024
HELD_STREAMS = 100
TARGETS = ("raw", "direct", "agent")

# -- the app -------------------------------------------------------------------------------------


class _App(BulkService):
    """The app in the workspace: one HTTP/1.1 request at a time per connection."""

    def __init__(self) -> None:
        super().__init__()
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None and b"\r\n\r\n" in self.buffer:
            head, _, rest = self.buffer.partition(b"\r\n\r\n")
            length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
            size = int(length.group(1)) if length else 0
            if len(rest) < size:
                return
            self.buffer = rest[size:]
            self.answer(head.split(b" ", 2)[1], rest[:size])

    def answer(self, path: bytes, body: bytes) -> None:
        assert self.transport is not None
        if path.startswith(b"/bulk/"):
            size = int(path[6:])
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
            self.send_bulk(size)
        elif path == b"/close":
            self.transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n" + SMALL
            )
            self.transport.close()
        elif path == b"/echo":
            self.transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
            )
        elif path == b"/hold":
            self.transport.write(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
            )
        else:
            self.transport.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")


# -- the client ----------------------------------------------------------------------------------


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        if not more:
            raise ConnectionError(f"closed before the response head: {data[:200]!r}")
        data += more
    head, _, rest = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise ConnectionError(f"unexpected response: {head[:300]!r}")
    return head, rest


def bulk(port: int, host: str, size: int) -> dict[str, float]:
    cpu = _cpu_seconds()
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(f"GET /bulk/{size} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        _, rest = _read_head(sock)
        received = len(rest)
        buffer = bytearray(1 << 20)
        while received < size:
            count = sock.recv_into(buffer)
            if not count:
                raise ConnectionError(f"closed after {received} of {size} bytes")
            received += count
    return {"seconds": time.perf_counter() - start, "client_cpu": _cpu_seconds() - cpu}


def new_streams(port: int, host: str, count: int) -> dict[str, Any]:
    request = f"GET /close HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    latencies = []
    for _ in range(count):
        start = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(request)
            _, body = _read_head(sock)
            while len(body) < len(SMALL):
                more = sock.recv(65536)
                if not more:
                    raise ConnectionError("the response was cut short")
                body += more
        latencies.append(time.perf_counter() - start)
    return {"latencies": latencies}


def echoes(port: int, host: str, seconds: float, connections: int = 50) -> dict[str, Any]:
    body = b"e" * ECHO_BYTES
    request = (
        f"POST /echo HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )

    async def one(deadline: float, latencies: list[float]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
            if not head.startswith(b"HTTP/1.1 200") or length is None:
                raise ConnectionError(f"unexpected response: {head[:300]!r}")
            await reader.readexactly(int(length.group(1)))
            latencies.append(time.perf_counter() - start)
        writer.close()

    async def run() -> dict[str, Any]:
        latencies: list[float] = []
        cpu, start = _cpu_seconds(), time.perf_counter()
        await asyncio.gather(*(one(start + seconds, latencies) for _ in range(connections)))
        return {
            "seconds": time.perf_counter() - start,
            "latencies": latencies,
            "client_cpu": _cpu_seconds() - cpu,
        }

    return uvloop.run(run())


def hold(port: int, host: str, conn: Connection) -> None:
    """Open ``HELD_STREAMS`` responses that never end, say so, and close them when told."""
    socks = []
    for _ in range(HELD_STREAMS):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(f"GET /hold HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        socks.append(sock)
    for sock in socks:
        data = b""
        while b"hello" not in data:
            more = sock.recv(65536)
            if not more:
                raise ConnectionError(f"a held stream closed: {data[:300]!r}")
            data += more
    conn.send("open")
    conn.recv()
    for sock in socks:
        sock.close()


def client_main(work: Callable[..., Any], arguments: tuple[Any, ...], conn: Connection) -> None:
    try:
        conn.send(work(*arguments))
    except Exception as problem:
        conn.send(problem)


# -- the run -------------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    port: int
    host: str
    plane_pid: int | None  # the control plane (None for raw)
    agent_pid: int | None


def process_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_by_process(pids: list[int]) -> dict[int, float]:
    return {pid: process_cpu(pid) for pid in pids}


def in_client(
    context: multiprocessing.context.SpawnContext,
    target: Target,
    work: Callable[..., Any],
    *arguments: Any,
) -> Any:
    """``work(target.port, target.host, *arguments)`` in a client process of its own."""
    parent, child = context.Pipe()
    arguments = (target.port, target.host, *arguments)
    process = context.Process(target=client_main, args=(work, arguments, child))
    process.start()
    if not parent.poll(600):
        process.kill()
        raise SystemExit(f"{target.name} {work.__name__}: no answer in 600 s")
    result = parent.recv()
    process.join(timeout=10)
    if isinstance(result, Exception):
        raise SystemExit(f"{target.name} {work.__name__}: {result}")
    return result


def roles(target: Target, app_pid: int) -> dict[str, list[int]]:
    """The processes on ``target``'s path, by role (the client is measured by itself)."""
    return {
        "app": [app_pid],
        "plane": descendants(target.plane_pid) if target.plane_pid else [],
        "agent": [target.agent_pid] if target.agent_pid else [],
    }


def measured(
    context: multiprocessing.context.SpawnContext,
    target: Target,
    app_pid: int,
    work: Callable[..., Any],
    *arguments: Any,
) -> tuple[Any, dict[str, float], float]:
    """``work``'s result in a client process, the CPU seconds each role spent on it, and those
    of the busiest single process, the client included (it reports ``client_cpu``)."""
    processes = roles(target, app_pid)
    before = cpu_by_process([pid for pids in processes.values() for pid in pids])
    result = in_client(context, target, work, *arguments)
    spent = {pid: process_cpu(pid) - seconds for pid, seconds in before.items()}
    by_role = {role: sum(spent[pid] for pid in pids) for role, pids in processes.items()}
    return result, by_role, max([result["client_cpu"], *spent.values()])


def measure_bulk(
    context: multiprocessing.context.SpawnContext, target: Target, app_pid: int, size: int
) -> dict[str, float]:
    result, spent, busiest = measured(context, target, app_pid, bulk, size)
    megabytes = size / 1e6
    return {
        "bulk": megabytes / result["seconds"],
        "core_bound": megabytes / busiest if busiest > 0 else float("nan"),
        "plane_ms_per_mb": spent["plane"] * 1000 / megabytes,
        "agent_ms_per_mb": spent["agent"] * 1000 / megabytes,
    }


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure_round(
    context: multiprocessing.context.SpawnContext,
    target: Target,
    app_pid: int,
    args: argparse.Namespace,
) -> dict[str, float]:
    result = measure_bulk(context, target, app_pid, args.megabytes * 1_000_000)
    latencies = in_client(context, target, new_streams, args.streams)["latencies"]
    result["stream_p50"] = percentile(latencies, 0.50) * 1000
    result["stream_p99"] = percentile(latencies, 0.99) * 1000
    echoed, spent, _ = measured(context, target, app_pid, echoes, args.seconds)
    count = len(echoed["latencies"])
    result["echo_rate"] = count / echoed["seconds"]
    result["echo_p99"] = percentile(echoed["latencies"], 0.99) * 1000
    spent["client"] = echoed["client_cpu"]
    for role, seconds in spent.items():
        result[f"echo_us_{role}"] = seconds * 1e6 / count
    return result


def agent_memory(context: multiprocessing.context.SpawnContext, target: Target) -> list[str]:
    assert target.agent_pid is not None

    def line(when: str) -> str:
        rss, pss = memory_kib(cast(int, target.agent_pid))
        return f"  {when:<28} RSS {rss / 1024:6.1f} MiB   PSS {pss / 1024:6.1f} MiB"

    lines = [line("idle")]
    parent, child = context.Pipe()
    process = context.Process(target=hold, args=(target.port, target.host, child))
    process.start()
    if not parent.poll(120):
        process.kill()
        raise SystemExit("the held streams did not open in 120 s")
    parent.recv()
    time.sleep(0.5)
    lines.append(line(f"with {HELD_STREAMS} open streams"))
    parent.send("close")
    process.join(timeout=30)
    time.sleep(2.0)
    lines.append(line("after they closed"))
    return lines


def median(values: list[float]) -> float:
    return statistics.median(values)


def report(results: dict[str, list[dict[str, float]]], rounds: int) -> None:
    def value(name: str, key: str) -> float:
        return median([result[key] for result in results[name]])

    print()
    print(f"medians of {rounds} rounds:")
    print(
        f"  {'target':<7} {'bulk MB/s':>10} {'core-bound':>11} {'plane ms/MB':>12} "
        f"{'agent ms/MB':>12} {'stream p50':>11} {'p99':>8} {'1KB x50 req/s':>14} {'p99':>8}"
    )
    for name in TARGETS:
        print(
            f"  {name:<7} {value(name, 'bulk'):>10,.0f} {value(name, 'core_bound'):>11,.0f} "
            f"{value(name, 'plane_ms_per_mb'):>12.2f} {value(name, 'agent_ms_per_mb'):>12.2f} "
            f"{value(name, 'stream_p50'):>9.2f}ms {value(name, 'stream_p99'):>6.2f}ms "
            f"{value(name, 'echo_rate'):>14,.0f} {value(name, 'echo_p99'):>6.2f}ms"
        )
    print()
    print("CPU per 1 KB request/response in the 50 x 1 KB runs (µs, by process):")
    for name in TARGETS:
        parts = ", ".join(
            f"{role} {value(name, f'echo_us_{role}'):.0f}"
            for role in ("client", "plane", "agent", "app")
        )
        print(f"  {name:<7} {parts}")
    print()

    def ratio(name: str, key: str) -> float:
        return value(name, key) / value("raw", key)

    def verdict(ok: bool) -> str:
        return "meets" if ok else "MISSES"

    checks = [
        ("bulk", ratio("agent", "bulk"), "x raw", ratio("direct", "bulk"), 0.2, True),
        (
            "core-bound",
            ratio("agent", "core_bound"),
            "x raw",
            ratio("direct", "core_bound"),
            0.3,
            True,
        ),
        (
            "control-plane CPU",
            value("agent", "plane_ms_per_mb"),
            " ms/MB",
            value("direct", "plane_ms_per_mb"),
            1.0,
            False,
        ),
        (
            "new stream p50",
            value("agent", "stream_p50"),
            " ms",
            value("direct", "stream_p50"),
            2.5,
            False,
        ),
        (
            "new stream p99",
            value("agent", "stream_p99"),
            " ms",
            value("direct", "stream_p99"),
            7.0,
            False,
        ),
        (
            "50 x 1 KB",
            ratio("agent", "echo_rate"),
            "x raw",
            ratio("direct", "echo_rate"),
            0.2,
            True,
        ),
        (
            "50 x 1 KB p99",
            value("agent", "echo_p99"),
            " ms",
            value("direct", "echo_p99"),
            15.0,
            False,
        ),
    ]
    print("router + agent against the targets (the direct router of the baseline in brackets):")
    for label, measured, unit, baseline, target, at_least in checks:
        ok = measured >= target if at_least else measured <= target
        bound = f"{'≥' if at_least else '≤'} {target:g}{unit}"
        print(
            f"  {label:<18} {measured:8.2f}{unit:<6} [direct {baseline:.2f}{unit.strip()}]   "
            f"{verdict(ok)} the target ({bound.strip()})"
        )
    print(
        f"  agent / direct: bulk {value('agent', 'bulk') / value('direct', 'bulk'):.2f}, "
        f"core-bound {value('agent', 'core_bound') / value('direct', 'core_bound'):.2f}, "
        f"control plane CPU per MB {value('agent', 'plane_ms_per_mb'):.2f} against "
        f"{value('direct', 'plane_ms_per_mb'):.2f} ms, "
        f"50 x 1 KB {value('agent', 'echo_rate') / value('direct', 'echo_rate'):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--megabytes", type=int, default=256, help="per bulk transfer")
    parser.add_argument("--streams", type=int, default=300, help="new streams per round")
    parser.add_argument("--seconds", type=float, default=5.0, help="per 50 x 1 KB run")
    parser.add_argument("--baseline", default=BASELINE, help="the commit of the direct router")
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")

    with ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tunnel-bench-")))
        app_port, app_pid = serve_in_process(context, stack, _App)
        options = ("--wildcard-access-url", "*.apps.localhost", "--workers", "1")
        apps = [app("app", f"http://localhost:{app_port}")]

        old = stack.enter_context(
            templater_server(
                root,
                *options,
                source_tree=checkout(args.baseline, root / "baseline"),
                name="direct",
            )
        )
        old.apply("bench", apps, address="127.0.0.1")
        new = stack.enter_context(templater_server(root, *options, name="agent"))
        new.apply("bench", apps)
        agent_pid = new.start_agent(stack, "bench")
        through_agent = Target("agent", new.port, HOST, new.process.pid, agent_pid)
        targets = [
            Target("raw", app_port, HOST, None, None),
            Target("direct", old.port, HOST, old.process.pid, None),
            through_agent,
        ]
        print(
            f"tunnel benchmark: {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
            f"load average before the run {os.getloadavg()[0]:.2f}; baseline {args.baseline}"
        )
        print(
            f"  bulk: one GET of {args.megabytes} MB; new stream: {args.streams} new connections, "
            f"each a GET the app closes; 50 x 1 KB: {args.seconds:g} s of POSTs echoed"
        )
        memory = agent_memory(context, through_agent)
        for target in targets:  # warm up: connections, caches, the first lookups
            measure_bulk(context, target, app_pid, 16_000_000)
            in_client(context, target, new_streams, 20)

        results: dict[str, list[dict[str, float]]] = {name: [] for name in TARGETS}
        for index in range(args.rounds):
            order = targets[index % len(targets) :] + targets[: index % len(targets)]
            line = []
            for target in order:
                result = measure_round(context, target, app_pid, args)
                results[target.name].append(result)
                line.append(
                    f"{target.name} {result['bulk']:,.0f} MB/s, stream p50 "
                    f"{result['stream_p50']:.2f} ms, {result['echo_rate']:,.0f} req/s"
                )
            print(f"  round {index + 1}: " + "; ".join(line), flush=True)
        report(results, args.rounds)
        print()
        print("the agent's memory (one templater agent process):")
        for line_ in memory:
            print(line_)
        for line_ in agent_memory(context, through_agent)[1:]:
            print(line_ + "   (again, after the rounds)")
        print(f"load average after the run {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    run_main(main)
