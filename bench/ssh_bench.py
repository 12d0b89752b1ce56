"""SSH to a workspace through the control plane (SPEC §12), with the real OpenSSH client and the
configuration `templater config-ssh` writes, against a real server and agent:

- ``ssh -L`` bulk throughput to an app in the workspace (target ≥ 100 MB/s), next to the same
  bytes read from the app directly (raw loopback) in the same run;
- ``ssh templater.dev true``, the whole process (target p50 ≤ 150 ms), next to what it is made
  of: the ProxyCommand's own start (``templater ssh --stdio`` refusing a bad name at once) and a
  bare Python start.

Usage: ``python bench/ssh_bench.py [--megabytes 256] [--rounds 3] [--runs 30]``;
``bench/forward_bench.py`` takes the same figures (``measure_ssh``) in its own run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from harness import Templater, free_port, run_main, running, templater_server

_CHUNK = 1 << 20


def serve(port: int, size: int) -> None:
    """The app: every connection gets ``size`` bytes, then the end."""
    block = os.urandom(_CHUNK)
    listener = socket.create_server(("127.0.0.1", port))
    while True:
        connection, _ = listener.accept()
        with connection, contextlib.suppress(OSError):  # a probe that hung up at once
            for _ in range(size // _CHUNK):
                connection.sendall(block)


def read_all(port: int) -> tuple[int, float]:
    """Bytes read from ``port`` until it ends, and the seconds it took."""
    buffer = bytearray(_CHUNK)
    total = 0
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as connection:
        while received := connection.recv_into(buffer):
            total += received
    return total, time.perf_counter() - started


def wait_listening(port: int, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def timed(command: list[str], environment: dict[str, str], runs: int) -> list[float]:
    """Milliseconds each of ``runs`` runs of ``command`` took, start to exit."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, env=environment, capture_output=True, stdin=subprocess.DEVNULL)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass
class SshFigures:
    """What one measurement of SSH through the control plane gives: MB/s and milliseconds."""

    workspace: str
    megabytes: int
    raw_rate: float
    bulk: float
    true_ms: list[float]
    proxy_start_ms: list[float]
    python_start_ms: list[float]

    @property
    def true_p50(self) -> float:
        return statistics.median(self.true_ms)


def require_ssh() -> None:
    if shutil.which("ssh") is None:
        raise SystemExit("needs OpenSSH's client: apt-get install openssh-client")


def measure_ssh(
    stack: ExitStack,
    server: Templater,
    workspace: str,
    environment: dict[str, str],
    *,
    megabytes: int,
    rounds: int,
    runs: int,
) -> SshFigures:
    """SSH's figures through ``server`` to the admin's ``workspace``, whose agent is connected:
    the app is started here (stopped with ``stack``), the SSH configuration written by
    ``templater config-ssh`` in ``server.root``; ``environment`` has the admin's credentials."""
    root = server.root
    size = megabytes * _CHUNK
    app_port = free_port()
    here = Path(__file__).resolve()
    stack.enter_context(
        running([sys.executable, str(here), "--serve", str(app_port), str(size)], root / "app.log")
    )
    config = root / "ssh" / "config"
    written = subprocess.run(
        [sys.executable, "-m", "templater", "config-ssh", "--ssh-config", str(config)],
        env=environment,
        capture_output=True,
        text=True,
    )
    if written.returncode != 0:
        raise SystemExit(f"config-ssh failed: {written.stderr}")
    wait_listening(app_port)

    host = f"templater.{workspace}"
    raw = [read_all(app_port) for _ in range(rounds)]
    local = free_port()
    forward = ["-N", "-L", f"{local}:127.0.0.1:{app_port}", host]
    with running(["ssh", "-F", str(config), *forward], root / "ssh-L.log", environment):
        wait_listening(local)
        tunnelled = [read_all(local) for _ in range(rounds)]
    for total, _ in raw + tunnelled:
        if total != size:
            raise SystemExit(f"a bulk round read {total} bytes of {size}")

    ssh_true = timed(["ssh", "-F", str(config), host, "true"], environment, runs)
    proxy_start = timed(
        [sys.executable, "-m", "templater", "ssh", "--stdio", "not.a.name"], environment, runs
    )
    python_start = timed([sys.executable, "-c", "pass"], environment, runs)
    return SshFigures(
        workspace=workspace,
        megabytes=megabytes,
        raw_rate=statistics.median(size / 1e6 / seconds for _, seconds in raw),
        bulk=statistics.median(size / 1e6 / seconds for _, seconds in tunnelled),
        true_ms=ssh_true,
        proxy_start_ms=proxy_start,
        python_start_ms=python_start,
    )


def met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report_ssh(figures: SshFigures, rounds: int) -> None:
    print(f"bulk, {figures.megabytes} MiB a round, median of {rounds}:")
    print(f"  raw loopback from the app        {figures.raw_rate:8.0f} MB/s")
    print(
        f"  ssh -L through config-ssh        {figures.bulk:8.0f} MB/s  "
        f"({figures.bulk / figures.raw_rate:.3f}x raw; "
        f"target >= 100 MB/s: {met(figures.bulk >= 100)})"
    )
    print(f"whole processes, {len(figures.true_ms)} runs each (p50 / p90 ms):")
    print(
        f"  {f'ssh templater.{figures.workspace} true':<32} {figures.true_p50:6.0f} / "
        f"{percentile(figures.true_ms, 0.9):4.0f}"
        f"  (target p50 <= 150 ms: {met(figures.true_p50 <= 150)})"
    )
    print(
        f"  of which the ProxyCommand start  {statistics.median(figures.proxy_start_ms):6.0f} / "
        f"{percentile(figures.proxy_start_ms, 0.9):4.0f}  (templater ssh --stdio, refusing a bad name)"
    )
    print(
        f"  a bare Python start              {statistics.median(figures.python_start_ms):6.0f} / "
        f"{percentile(figures.python_start_ms, 0.9):4.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=int, default=256, help="bytes per bulk round, MiB")
    parser.add_argument("--rounds", type=int, default=3, help="bulk rounds (median)")
    parser.add_argument("--runs", type=int, default=30, help="runs of `ssh templater.dev true`")
    args = parser.parse_args()
    require_ssh()
    with tempfile.TemporaryDirectory(prefix="ssh-bench-") as scratch, ExitStack() as stack:
        server = stack.enter_context(templater_server(Path(scratch)))
        server.apply("dev", [])
        server.start_agent(stack, "dev")
        env = {**server.environment, "TEMPLATER_URL": server.base, "TEMPLATER_TOKEN": server.token}
        figures = measure_ssh(
            stack, server, "dev", env, megabytes=args.megabytes, rounds=args.rounds, runs=args.runs
        )
    report_ssh(figures, args.rounds)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(int(sys.argv[2]), int(sys.argv[3]))
    else:
        run_main(main)
