"""SSH to a workspace through the control plane (SPEC §12), with the real OpenSSH client and the
configuration `templater config-ssh` writes, against a real server and agent:

- ``ssh -L`` bulk throughput to an app in the workspace (target ≥ 100 MB/s), next to the same
  bytes read from the app directly (raw loopback) in the same run;
- ``ssh templater.dev true``, the whole process (target p50 ≤ 150 ms), next to what it is made
  of: the ProxyCommand's own start (``templater ssh --stdio`` refusing a bad name at once) and a
  bare Python start.

Usage: ``python bench/ssh_bench.py [--megabytes 256] [--rounds 3] [--runs 30]``.
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
from pathlib import Path

from harness import free_port, run_main, running, templater_server

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=int, default=256, help="bytes per bulk round, MiB")
    parser.add_argument("--rounds", type=int, default=3, help="bulk rounds (median)")
    parser.add_argument("--runs", type=int, default=30, help="runs of `ssh templater.dev true`")
    args = parser.parse_args()
    if shutil.which("ssh") is None:
        raise SystemExit("needs OpenSSH's client: apt-get install openssh-client")
    size = args.megabytes * _CHUNK
    with tempfile.TemporaryDirectory(prefix="ssh-bench-") as scratch, ExitStack() as stack:
        root = Path(scratch)
        server = stack.enter_context(templater_server(root))
        app_port = free_port()
        here = Path(__file__).resolve()
        stack.enter_context(
            running(
                [sys.executable, str(here), "--serve", str(app_port), str(size)], root / "app.log"
            )
        )
        server.apply("dev", [])
        server.start_agent(stack, "dev")
        env = {**server.environment, "TEMPLATER_URL": server.base, "TEMPLATER_TOKEN": server.token}
        config = root / "ssh" / "config"
        written = subprocess.run(
            [sys.executable, "-m", "templater", "config-ssh", "--ssh-config", str(config)],
            env=env,
            capture_output=True,
            text=True,
        )
        if written.returncode != 0:
            raise SystemExit(f"config-ssh failed: {written.stderr}")
        wait_listening(app_port)

        raw = [read_all(app_port) for _ in range(args.rounds)]
        local = free_port()
        forward = ["-N", "-L", f"{local}:127.0.0.1:{app_port}", "templater.dev"]
        stack.enter_context(running(["ssh", "-F", str(config), *forward], root / "ssh-L.log", env))
        wait_listening(local)
        tunnelled = [read_all(local) for _ in range(args.rounds)]
        for total, _ in raw + tunnelled:
            if total != size:
                raise SystemExit(f"a bulk round read {total} bytes of {size}")

        ssh_true = timed(["ssh", "-F", str(config), "templater.dev", "true"], env, args.runs)
        proxy_start = timed(
            [sys.executable, "-m", "templater", "ssh", "--stdio", "not.a.name"], env, args.runs
        )
        python_start = timed([sys.executable, "-c", "pass"], env, args.runs)

    megabytes = size / 1e6
    raw_rate = statistics.median(megabytes / seconds for _, seconds in raw)
    ssh_rate = statistics.median(megabytes / seconds for _, seconds in tunnelled)
    print(f"bulk, {args.megabytes} MiB a round, median of {args.rounds}:")
    print(f"  raw loopback from the app        {raw_rate:8.0f} MB/s")
    print(
        f"  ssh -L through config-ssh        {ssh_rate:8.0f} MB/s  ({ssh_rate / raw_rate:.3f}x raw; "
        f"target >= 100 MB/s: {'met' if ssh_rate >= 100 else 'MISSED'})"
    )
    p50 = statistics.median(ssh_true)
    print(f"whole processes, {args.runs} runs each (p50 / p90 ms):")
    print(
        f"  ssh templater.dev true           {p50:6.0f} / {percentile(ssh_true, 0.9):4.0f}"
        f"  (target p50 <= 150 ms: {'met' if p50 <= 150 else 'MISSED'})"
    )
    print(
        f"  of which the ProxyCommand start  {statistics.median(proxy_start):6.0f} / "
        f"{percentile(proxy_start, 0.9):4.0f}  (templater ssh --stdio, refusing a bad name)"
    )
    print(
        f"  a bare Python start              {statistics.median(python_start):6.0f} / "
        f"{percentile(python_start, 0.9):4.0f}"
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(int(sys.argv[2]), int(sys.argv[3]))
    else:
        run_main(main)
