"""Proxy benchmark: small GETs sent directly to an app, through templater's router, and through
nginx as a reverse proxy, in one run (SPEC §10).

Run by hand (as root, on Linux): ``python bench/proxy_bench.py [--rounds 3] [--seconds 5]``.
Installs nginx and wrk from Debian (``apt-get install -y``) when they are missing, and says so.
What it does:

- the upstream app is nginx serving a ~100-byte static file on its own loopback port: the
  fastest upstream there is, so that what the proxies add is what is measured;
- target ``direct``: wrk to that upstream; ``router``: wrk to ``templater server`` (scratch data
  directory, ``--wildcard-access-url '*.apps.localhost'``) with ``Host:
  app--bench--admin.apps.localhost``, a public subdomain app applied through the API and reached
  through a real ``templater agent``, as every app is; ``baseline``: the same through the router
  of commit ``--baseline REV`` (by default ``tunnel_bench.BASELINE``, the last that dialled apps
  itself; a later commit reaches the app through its own agent), run from a ``git archive`` of
  it (``--no-baseline`` leaves it out); ``nginx``: wrk to a second nginx, a reverse proxy (``proxy_pass`` to an ``upstream`` block
  with ``keepalive 64``, ``proxy_http_version 1.1``, ``proxy_set_header Connection ""``,
  ``worker_processes auto``, no access log); ``pipe``: ``bench/byte_pipe.py``, bytes piped to
  the upstream on uvloop without any HTTP parsing, one process per CPU: the floor of any Python
  proxy on this machine, to tell the cost of Python and its event loop from that of the router's
  own work;
- every round measures the targets interleaved (the order rotates from round to round):
  throughput with ``wrk -t1 -c50`` (SPEC §10's setting), then latency at light load with
  ``wrk -t1 -c1 --latency`` (one request at a time: a request's own cost, not queueing);
- prints medians over the rounds, the ratios router/nginx (target ≥ 0.5), router/baseline
  (what the agent's streams cost), router/direct and nginx/direct, and the p50 each proxy adds over direct at c=1 (target < 1 ms); and the CPU
  seconds per 1,000 requests of each server's processes during the c=50 runs (from /proc),
  which shows the router's cost apart from the machine's other load.

wrk, the proxies and the upstream all share the machine's cores: on 2 cores the c=50 numbers
are a contest for CPU, so read them with the CPU per request. Every process and the scratch
directory are removed at the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from harness import (
    app,
    checkout,
    free_port,
    run_main,
    running,
    templater_server,
    tree_cpu_seconds,
    wait_for,
)
from tunnel_bench import BASELINE

BODY = (b"templater proxy bench: a small static body, about one hundred bytes long. " * 2)[:100]
APP_HOST = "app--bench--admin.apps.localhost"
TARGETS = ("direct", "router", "baseline", "nginx", "pipe")
THROUGHPUT_TARGET = 0.5  # router / nginx requests per second at c=50
ADDED_P50_TARGET_MS = 1.0  # p50 added over direct at c=1


# -- tools and processes -----------------------------------------------------------------------


def ensure_tools() -> None:
    missing = [tool for tool in ("nginx", "wrk") if find_tool(tool) is None]
    if not missing:
        return
    if os.geteuid() != 0:
        raise SystemExit(f"missing {', '.join(missing)}: install them (apt-get install -y ...)")
    print(f"installing from Debian: apt-get install -y {' '.join(missing)}", flush=True)
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=environment)
    subprocess.run(["apt-get", "install", "-y", "-q", *missing], check=True, env=environment)
    for tool in missing:
        print(f"installed {tool}: {find_tool(tool)}")


def find_tool(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")


NGINX_COMMON = """\
daemon off;
master_process on;
worker_processes {workers};
{user}
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {root}/client_body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    keepalive_requests 1000000;
{server}
}}
"""

UPSTREAM_SERVER = """\
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {root}/www;
        location / {{ }}
    }}
"""

PROXY_SERVER = """\
    upstream app {{
        server 127.0.0.1:{upstream};
        keepalive 64;
        keepalive_requests 1000000;
    }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
"""


def nginx(root: Path, server: str, workers: str) -> list[str]:
    root.mkdir()
    # As root, nginx's workers would become "nobody", who cannot read a private scratch directory.
    user = "user root;" if os.geteuid() == 0 else ""
    text = NGINX_COMMON.format(workers=workers, user=user, root=root, server=server)
    (root / "nginx.conf").write_text(text)
    return [find_tool("nginx") or "nginx", "-p", str(root), "-c", str(root / "nginx.conf")]


# -- wrk -----------------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    url: str
    pid: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Result:
    requests_per_second: float
    requests: int
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_seconds: float
    wall_seconds: float


UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_wrk(output: str) -> tuple[float, int, float, float, int]:
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    latencies = {
        percent: float(value) * UNITS_MS[unit]
        for percent, value, unit in re.findall(
            r"^\s+(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M
        )
    }
    if rate is None or total is None or set(latencies) != {"50", "99"}:
        raise RuntimeError(f"could not read wrk's output:\n{output}")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors += int(non_2xx.group(1)) if non_2xx else 0
    return float(rate.group(1)), int(total.group(1)), latencies["50"], latencies["99"], errors


def run_wrk(target: Target, connections: int, seconds: float) -> Result:
    arguments = [find_tool("wrk") or "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s"]
    arguments += ["--latency", "--timeout", "5s"]
    for name, value in target.headers.items():
        arguments += ["-H", f"{name}: {value}"]
    cpu_before, wall_before = tree_cpu_seconds(target.pid), time.monotonic()
    done = subprocess.run(
        [*arguments, target.url], capture_output=True, text=True, timeout=seconds + 30
    )
    cpu, wall = tree_cpu_seconds(target.pid) - cpu_before, time.monotonic() - wall_before
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr}")
    rate, total, p50, p99, errors = parse_wrk(done.stdout)
    return Result(rate, total, p50, p99, errors, cpu, wall)


# -- report --------------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values)


def listing(values: list[float], form: str) -> str:
    return ", ".join(format(value, form) for value in values)


def report(results: dict[tuple[str, int], list[Result]], rounds: int, seconds: float) -> None:
    def series(name: str, connections: int, pick: Callable[[Result], float]) -> list[float]:
        return [pick(result) for result in results[(name, connections)]]

    print()
    print(f"medians of {rounds} rounds, {seconds:g} s per measurement:")
    print(
        f"  {'target':<8} {'req/s c=50':>11} {'p50 c=50':>9} {'p99 c=50':>9} "
        f"{'req/s c=1':>10} {'p50 c=1':>8} {'p99 c=1':>8} {'CPU s/1k req':>13} {'cores':>6} "
        f"{'errors':>7}"
    )
    names = [name for name in TARGETS if (name, 50) in results]
    for name in names:
        busy, light = results[(name, 50)], results[(name, 1)]
        cpu = [r.cpu_seconds / r.requests * 1000 for r in busy]
        cores = [r.cpu_seconds / r.wall_seconds for r in busy]
        errors = sum(r.errors for r in busy + light)
        print(
            f"  {name:<8} {median([r.requests_per_second for r in busy]):>11,.0f} "
            f"{median([r.p50_ms for r in busy]):>7.2f}ms {median([r.p99_ms for r in busy]):>7.2f}ms "
            f"{median([r.requests_per_second for r in light]):>10,.0f} "
            f"{median([r.p50_ms for r in light]):>6.3f}ms {median([r.p99_ms for r in light]):>6.3f}ms "
            f"{median(cpu):>13.4f} {median(cores):>6.2f} {errors:>7}"
        )
    print(
        "  (CPU s/1k req and cores busy: the server's own processes during the c=50 runs, from "
        "/proc — direct: the upstream nginx; router: the templater server and its front-port "
        "workers (one process per CPU), without its agent's; baseline: the same for the older "
        "router; nginx: the proxy nginx's master and workers, without "
        "the upstream's)"
    )
    print()
    rate = {name: series(name, 50, lambda r: r.requests_per_second) for name in names}
    p50 = {name: series(name, 1, lambda r: r.p50_ms) for name in names}

    def ratio(top: str, bottom: str) -> tuple[float, list[float]]:
        per_round = [a / b for a, b in zip(rate[top], rate[bottom], strict=True)]
        return median(rate[top]) / median(rate[bottom]), per_round

    def added(name: str) -> tuple[float, list[float]]:
        per_round = [a - b for a, b in zip(p50[name], p50["direct"], strict=True)]
        return median(p50[name]) - median(p50["direct"]), per_round

    print("throughput at c=50 (ratio of medians; per round in brackets):")
    for top, bottom in (
        ("router", "nginx"),
        ("router", "baseline"),
        ("router", "direct"),
        ("nginx", "direct"),
        ("pipe", "nginx"),
    ):
        if bottom not in rate:
            continue
        value, per_round = ratio(top, bottom)
        line = f"  {top + '/' + bottom:<14} {value:.3f}   [{listing(per_round, '.3f')}]"
        if (top, bottom) == ("router", "nginx"):
            verdict = "meets" if value >= THROUGHPUT_TARGET else "MISSES"
            line += f"   {verdict} the target (≥ {THROUGHPUT_TARGET})"
        print(line)
    print("p50 added over direct at c=1 (difference of medians; per round in brackets):")
    for name in ("router", "nginx"):
        value, per_round = added(name)
        verdict = "meets" if value < ADDED_P50_TARGET_MS else "MISSES"
        print(
            f"  {name:<7} {value * 1000:+5.0f} µs   [{listing([v * 1000 for v in per_round], '+.0f')}]"
            f"   {verdict} the target (< {ADDED_P50_TARGET_MS:g} ms)"
        )
    router_cpu, nginx_cpu, pipe_cpu = (
        median([r.cpu_seconds / r.requests * 1000 for r in results[(name, 50)]])
        for name in ("router", "nginx", "pipe")
    )
    if nginx_cpu > 0:
        print(
            f"CPU per request at c=50: router {router_cpu * 1000:.0f} µs, nginx proxy "
            f"{nginx_cpu * 1000:.0f} µs ({router_cpu / nginx_cpu:.1f}x), Python byte pipe "
            f"{pipe_cpu * 1000:.0f} µs; a whole free core would let the router serve about "
            f"{1 / router_cpu * 1000:,.0f} req/s"
        )


# -- main ----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds per target, untimed")
    parser.add_argument(
        "--upstream-workers", default="auto", help="worker_processes of the upstream nginx"
    )
    parser.add_argument("--no-baseline", action="store_true", help="leave out the older router")
    parser.add_argument(
        "--baseline",
        default=BASELINE,
        metavar="REV",
        help=f"the commit whose router is the baseline (default {BASELINE}, the last that dialled "
        "apps itself; a later one reaches its app through its own agent)",
    )
    args = parser.parse_args()
    ensure_tools()

    with ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="proxy-bench-")))
        upstream_port, nginx_port, pipe_port = (free_port() for _ in range(3))

        upstream_root = root / "upstream"
        upstream_command = nginx(
            upstream_root,
            UPSTREAM_SERVER.format(port=upstream_port, root=upstream_root),
            args.upstream_workers,
        )
        (upstream_root / "www").mkdir()
        (upstream_root / "www" / "index.html").write_bytes(BODY)
        upstream = stack.enter_context(running(upstream_command, root / "upstream.log"))

        proxy_root = root / "proxy"
        proxy_command = nginx(
            proxy_root, PROXY_SERVER.format(port=nginx_port, upstream=upstream_port), "auto"
        )
        proxy = stack.enter_context(running(proxy_command, root / "proxy.log"))

        pipe_command = [sys.executable, str(Path(__file__).with_name("byte_pipe.py"))]
        pipe_command += [str(pipe_port), str(upstream_port)]
        pipe = stack.enter_context(running(pipe_command, root / "pipe.log"))

        apps = [app("app", f"http://localhost:{upstream_port}")]
        wildcard = ("--wildcard-access-url", "*.apps.localhost")
        targets = [Target("direct", f"http://127.0.0.1:{upstream_port}/index.html", upstream.pid)]
        try:
            server = stack.enter_context(templater_server(root, *wildcard))
            server.apply("bench", apps)
            server.start_agent(stack, "bench")
            targets.append(Target("router", f"{server.base}/index.html", server.process.pid))
            if not args.no_baseline:
                tree = checkout(args.baseline, root / "baseline")
                old = stack.enter_context(
                    templater_server(root, *wildcard, source_tree=tree, name="baseline")
                )
                if (tree / "templater" / "agent").is_dir():  # its own agent, from its own code
                    old.apply("bench", apps)
                    old.start_agent(stack, "bench")
                else:
                    old.apply("bench", apps, address="127.0.0.1")
                targets.append(Target("baseline", f"{old.base}/index.html", old.process.pid))
            targets += [
                Target("nginx", f"http://127.0.0.1:{nginx_port}/index.html", proxy.pid),
                Target("pipe", f"http://127.0.0.1:{pipe_port}/index.html", pipe.pid),
            ]
            for target in targets:
                if target.name in ("router", "baseline"):
                    target.headers = {"Host": APP_HOST}
                body = wait_for(target.url, target.headers, seconds=10)
                if body != BODY:
                    raise SystemExit(f"{target.name}: unexpected body {body[:200]!r}")
        except (OSError, SystemExit):
            for log in sorted(root.glob("*.log")):
                print(f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}")
            raise

        print(
            f"proxy benchmark: {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
            f"{subprocess.run([proxy_command[0], '-v'], capture_output=True, text=True).stderr.strip()}, "
            f"load average before the run {os.getloadavg()[0]:.2f}"
        )
        print(
            f"  upstream: nginx serving a {len(BODY)}-byte static file on a loopback port "
            f"(worker_processes {args.upstream_workers}) — the fastest upstream, so that the "
            "proxies are what is measured"
        )
        print(
            "  load: wrk -t1 -c50 for throughput, wrk -t1 -c1 --latency for the latency a "
            "request adds; wrk, proxies, agent and upstream share the cores"
        )
        for target in targets:  # warm up: connections, caches, the router's first lookups
            run_wrk(target, 50, args.warmup)

        results: dict[tuple[str, int], list[Result]] = {
            (t.name, c): [] for t in targets for c in (50, 1)
        }
        for index in range(args.rounds):
            order = targets[index % len(targets) :] + targets[: index % len(targets)]
            line = []
            for connections in (50, 1):
                for target in order:
                    result = run_wrk(target, connections, args.seconds)
                    results[(target.name, connections)].append(result)
                    line.append(
                        f"{target.name} c={connections} {result.requests_per_second:,.0f}/s "
                        f"p50 {result.p50_ms:.3f}ms"
                    )
            print(f"  round {index + 1}: " + "; ".join(line), flush=True)
        report(results, args.rounds, args.seconds)
        print(f"load average after the run {os.getloadavg()[0]:.2f}")
        for process in (upstream, proxy, pipe, *(s.process for s in [server])):
            if process.poll() is not None:
                print(f"warning: {process.args!r} exited early ({process.returncode})")


if __name__ == "__main__":
    run_main(main)
