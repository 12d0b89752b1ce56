"""Port-forward benchmark (issue 14): bytes between a client and a TCP service in a workspace
over a raw loopback connection and through ``templater port-forward``, and SSH's figures
(``ssh_bench.measure_ssh``) on the same server and agent, in one run.

Run by hand: ``python bench/forward_bench.py [--rounds 3] [--megabytes 256] [--connections 300]
[--seconds 5] [--ssh-runs 30]`` (one to two minutes). What it does:

- one process each for the client, the service, the control plane (``templater server
  --workers 1``), the agent and ``templater port-forward``; the service is an asyncio server on
  uvloop that reads one line: ``bulk N`` (it sends N bytes and closes) or ``echo`` (it echoes
  what follows);
- targets: ``raw``, the client connected to the service itself; ``forward``, the client
  connected to the port ``templater port-forward`` listens on, which reaches the service through
  the control plane and a stream from a real ``templater agent``;
- measures, the targets' order rotated each round: **bulk**, ``--megabytes`` read as fast as the
  client can; a **new connection**, connect, one echo of 4 bytes and close, ``--connections``
  times, p50 and p99; and **50 x 1 KB**, 50 connections each writing 1 KB and reading it back for
  ``--seconds``, exchanges per second;
- then SSH on the same server and agent: ``ssh -L`` bulk (``--megabytes`` MiB, ``--rounds``
  times) and ``ssh templater.bench true`` (``--ssh-runs`` times, the whole process), through what
  ``templater config-ssh`` writes;
- prints medians over the rounds, ratios to ``raw``, each target of issue 14 met or missed, then
  the ranking of port-forward and SSH by bulk.

Every process and the scratch directory are removed at the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import uvloop
from harness import BulkService, free_port, run_main, running, serve_in_process, templater_server
from ssh_bench import SshFigures, measure_ssh, met, report_ssh, require_ssh
from tunnel_bench import Target, in_client, percentile

ECHO_BYTES = 1024
TARGETS = ("raw", "forward")

# -- the service in the workspace ----------------------------------------------------------------


class _Service(BulkService):
    close_after_bulk = True

    def __init__(self) -> None:
        super().__init__()
        self.command: bytes | None = b""

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        if self.command is None:  # echoing
            self.transport.write(data)
            return
        self.command += data
        line, newline, rest = self.command.partition(b"\n")
        if not newline:
            return
        self.command = None
        if line.startswith(b"bulk "):
            self.send_bulk(int(line[5:]))
        elif rest:
            self.transport.write(rest)


# -- the client ----------------------------------------------------------------------------------


def bulk(port: int, host: str, size: int) -> dict[str, float]:
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"bulk %d\n" % size)
        received = 0
        buffer = bytearray(1 << 20)
        while received < size:
            count = sock.recv_into(buffer)
            if not count:
                raise ConnectionError(f"closed after {received} of {size} bytes")
            received += count
    return {"seconds": time.perf_counter() - start}


def new_connections(port: int, host: str, count: int) -> dict[str, Any]:
    latencies = []
    for _ in range(count):
        start = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"echo\nping")
            answer = b""
            while len(answer) < 4:
                more = sock.recv(64)
                if not more:
                    raise ConnectionError("closed before the echo")
                answer += more
        latencies.append(time.perf_counter() - start)
    return {"latencies": latencies}


def echoes(port: int, host: str, seconds: float, connections: int = 50) -> dict[str, Any]:
    body = b"e" * ECHO_BYTES

    async def one(deadline: float, counts: list[int]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"echo\n")
        while time.perf_counter() < deadline:
            writer.write(body)
            await reader.readexactly(len(body))
            counts.append(1)
        writer.close()

    async def run() -> dict[str, Any]:
        counts: list[int] = []
        start = time.perf_counter()
        await asyncio.gather(*(one(start + seconds, counts) for _ in range(connections)))
        return {"seconds": time.perf_counter() - start, "count": len(counts)}

    return uvloop.run(run())


def measure_round(
    context: multiprocessing.context.SpawnContext, target: Target, args: argparse.Namespace
) -> dict[str, float]:
    size = args.megabytes * 1_000_000
    seconds = in_client(context, target, bulk, size)["seconds"]
    latencies = in_client(context, target, new_connections, args.connections)["latencies"]
    echoed = in_client(context, target, echoes, args.seconds)
    return {
        "bulk": size / 1e6 / seconds,
        "connect_p50": percentile(latencies, 0.50) * 1000,
        "connect_p99": percentile(latencies, 0.99) * 1000,
        "echo_rate": echoed["count"] / echoed["seconds"],
    }


# -- the run -------------------------------------------------------------------------------------


def start_forward(
    stack: ExitStack, root: Path, environment: dict[str, str], remote: int
) -> tuple[int, int]:
    """``templater port-forward`` of the admin's workspace ``bench`` from a free local port to
    ``remote``, once it listens: the local port and its PID."""
    local = free_port()
    log = root / "port-forward.log"
    process = stack.enter_context(
        running(
            [
                sys.executable,
                "-m",
                "templater",
                "port-forward",
                "bench",
                "--tcp",
                f"{local}:{remote}",
            ],
            log,
            environment,
            cwd=root,
        )
    )
    deadline = time.monotonic() + 60
    while "Forwarding" not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"port-forward did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.05)
    return local, process.pid


def report(results: dict[str, list[dict[str, float]]], rounds: int, ssh: SshFigures) -> None:
    def value(name: str, key: str) -> float:
        return statistics.median([result[key] for result in results[name]])

    print()
    print(f"port-forward, medians of {rounds} rounds:")
    print(f"  {'target':<8} {'bulk MB/s':>10} {'new conn p50':>13} {'p99':>8} {'1KB x50 /s':>11}")
    for name in TARGETS:
        print(
            f"  {name:<8} {value(name, 'bulk'):>10,.0f} {value(name, 'connect_p50'):>11.2f}ms "
            f"{value(name, 'connect_p99'):>6.2f}ms {value(name, 'echo_rate'):>11,.0f}"
        )
    print()
    print("SSH, through what `templater config-ssh` wrote:")
    report_ssh(ssh, rounds)
    print()

    def ratio(key: str) -> float:
        return value("forward", key) / value("raw", key)

    checks = [
        ("port-forward bulk", ratio("bulk"), "x raw", 0.2, True),
        ("port-forward new connection p50", value("forward", "connect_p50"), " ms", 3.0, False),
        ("port-forward 50 x 1 KB", ratio("echo_rate"), "x raw", 0.15, True),
        ("ssh -L bulk", ssh.bulk, " MB/s", 100.0, True),
        (f"ssh templater.{ssh.workspace} true p50", ssh.true_p50, " ms", 150.0, False),
    ]
    print("the targets of issue 14:")
    for label, measured, unit, target, at_least in checks:
        ok = measured >= target if at_least else measured <= target
        bound = f"{'≥' if at_least else '≤'} {target:g}{unit}"
        print(f"  {label:<34} {measured:8.2f}{unit:<6} {met(ok):<6} (target {bound.strip()})")
    forward_bulk = value("forward", "bulk")
    ranked = sorted([("port-forward", forward_bulk), ("ssh -L", ssh.bulk)], key=lambda x: -x[1])
    holds = ranked[0][0] == "port-forward"
    print(
        "ranking by bulk: "
        + " > ".join(f"{name} ({rate:,.0f} MB/s)" for name, rate in ranked)
        + f"; port-forward faster than SSH: {'holds' if holds else 'DOES NOT HOLD'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--megabytes", type=int, default=256, help="per bulk transfer")
    parser.add_argument("--connections", type=int, default=300, help="new connections per round")
    parser.add_argument("--seconds", type=float, default=5.0, help="per 50 x 1 KB run")
    parser.add_argument(
        "--ssh-runs", type=int, default=30, help="runs of `ssh templater.bench true`"
    )
    args = parser.parse_args()
    require_ssh()
    context = multiprocessing.get_context("spawn")

    with ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="forward-bench-")))
        service_port, _ = serve_in_process(context, stack, _Service)
        plane = stack.enter_context(templater_server(root, "--workers", "1"))
        plane.apply("bench", [])
        plane.start_agent(stack, "bench")
        environment = {
            **plane.environment,
            "TEMPLATER_URL": plane.base,
            "TEMPLATER_TOKEN": plane.token,
            "XDG_CONFIG_HOME": str(root / "config"),
        }
        local, _ = start_forward(stack, root, environment, service_port)
        targets = [
            Target("raw", service_port, "", None, None),
            Target("forward", local, "", None, None),
        ]
        print(
            f"port-forward benchmark: {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
            f"load average before the run {os.getloadavg()[0]:.2f}"
        )
        print(
            f"  bulk: {args.megabytes} MB; new connection: {args.connections} connections, each "
            f"one 4-byte echo; 50 x 1 KB: {args.seconds:g} s of echoes"
        )
        for target in targets:  # warm up: the first lookups, the agent's first streams
            in_client(context, target, bulk, 16_000_000)
            in_client(context, target, new_connections, 20)
        results: dict[str, list[dict[str, float]]] = {name: [] for name in TARGETS}
        for index in range(args.rounds):
            order = targets[index % len(targets) :] + targets[: index % len(targets)]
            line = []
            for target in order:
                result = measure_round(context, target, args)
                results[target.name].append(result)
                line.append(
                    f"{target.name} {result['bulk']:,.0f} MB/s, new connection p50 "
                    f"{result['connect_p50']:.2f} ms, {result['echo_rate']:,.0f} /s"
                )
            print(f"  round {index + 1}: " + "; ".join(line), flush=True)
        print("  SSH: ssh -L bulk and `ssh templater.bench true`, on the same server and agent")
        ssh = measure_ssh(
            stack,
            plane,
            "bench",
            environment,
            megabytes=args.megabytes,
            rounds=args.rounds,
            runs=args.ssh_runs,
        )
        report(results, args.rounds, ssh)
        print(f"load average after the run {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    run_main(main)
