"""Apply benchmark: a template with 1,000 apps applied into a fresh workspace, then again unchanged.

Run by hand: ``python bench/apply_bench.py [--apps 1000] [--rounds 3]``. It starts a real
``templater server`` (SQLite in a scratch directory) and measures, per round, the apply request
itself (the control plane's work: one transaction) and the whole ``templater apply`` command
(start-up, evaluating and linting the template, planning, the request). Medians over the rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from engine_bench import generate_large_template

from templater.engine.options import EvalOptions
from templater.provisioning.client import Client
from templater.provisioning.credentials import Credentials
from templater.provisioning.workflow import make_plan


def start_server(data_dir: Path, port: int, apps: int) -> subprocess.Popen[bytes]:
    """A server with room for one workspace of ``apps`` apps checked every 5 s."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "templater",
            "server",
            "--data-dir",
            str(data_dir),
            "--listen",
            f"127.0.0.1:{port}",
            "--max-apps-per-workspace",
            str(apps),
            "--max-checks-per-second",
            str(-(-apps // 5)),
        ],
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start")


def timed_command(arguments: list[str], environment: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "templater", *arguments],
        env=environment,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--port", type=int, default=7391)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        template = root / "template"
        template.mkdir()
        generate_large_template(template, args.apps)
        server = start_server(root / "data", args.port, args.apps)
        try:
            url = f"http://127.0.0.1:{args.port}"
            token = (root / "data" / "admin-token").read_text().strip()
            client = Client(Credentials(url, token))
            environment = {
                **os.environ,
                "TEMPLATER_URL": url,
                "TEMPLATER_TOKEN": token,
                "XDG_CACHE_HOME": str(root / "cache"),
            }
            request_fresh, request_again, command_fresh, command_again = [], [], [], []
            for round_number in range(args.rounds):
                workspace = f"bench-{round_number}"
                plan = make_plan(client, template, workspace, None, EvalOptions())
                start = time.perf_counter()
                client.apply(plan.owner, workspace, 0, plan.desired)
                request_fresh.append(time.perf_counter() - start)
                start = time.perf_counter()
                client.apply(plan.owner, workspace, 1, plan.desired)
                request_again.append(time.perf_counter() - start)
                apply = [
                    "apply",
                    str(template),
                    "--workspace",
                    f"cli-{round_number}",
                    "--auto-approve",
                ]
                command_fresh.append(timed_command(apply, environment))
                command_again.append(timed_command(apply, environment))
            client.close()
        finally:
            server.terminate()
            server.wait()

    def show(name: str, times: list[float], target: str) -> None:
        print(
            f"{name:<46} median {statistics.median(times):6.3f} s  "
            f"{[round(t, 3) for t in sorted(times)]}  {target}"
        )

    print(f"template with {args.apps} apps, {args.rounds} rounds")
    show("apply request, fresh workspace", request_fresh, "(target < 2 s)")
    show("apply request, unchanged", request_again, "(target < 0.5 s)")
    show("templater apply command, fresh workspace", command_fresh, "")
    show("templater apply command, unchanged", command_again, "")


if __name__ == "__main__":
    main()
