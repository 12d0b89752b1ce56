"""What the benchmarks share: child processes that are stopped however a run ends, loopback
ports, CPU and memory read from /proc, an asyncio service on uvloop in a process of its own, and a
real ``templater server`` in a scratch directory with apps applied through its API and real
``templater agent`` processes connected to it.

A server can also run from an older commit (``source_tree``, made by ``checkout``), which is how
a benchmark measures a design that the current code no longer has next to the current one.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

import uvloop

REPOSITORY = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(url: str, headers: dict[str, str] | None = None, seconds: float = 30.0) -> bytes:
    deadline = time.monotonic() + seconds
    while True:
        try:
            request = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(request, timeout=2) as response:
                body: bytes = response.read()
                return body
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def descendants(pid: int) -> list[int]:
    """The process and its children, grandchildren... (Linux /proc)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with suppress(OSError):
                queue.extend(int(child) for child in task.read_text().split())
    return found


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its living descendants, from /proc/PID/stat."""
    ticks = 0
    for member in descendants(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int) -> tuple[int, int]:
    """A process's resident set and its proportional share of it (RSS, PSS) in KiB: PSS counts
    pages shared with other processes (the interpreter's libraries) by share."""
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    values = {line.split(":")[0]: int(line.split()[1]) for line in rollup[1:] if ":" in line}
    return values["Rss"], values["Pss"]


_CHUNK = memoryview(b"\0" * (256 * 1024))


class BulkService(asyncio.Protocol):
    """A connection of a service that sends bulk bytes as fast as its peer reads them."""

    close_after_bulk = False

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.bulk_left = 0
        self.paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def send_bulk(self, size: int = 0) -> None:
        """Send ``size`` bytes more, then what is left whenever the peer has read enough."""
        assert self.transport is not None
        self.bulk_left += size
        while self.bulk_left and not self.paused:
            piece = _CHUNK[: min(len(_CHUNK), self.bulk_left)]
            self.bulk_left -= len(piece)
            self.transport.write(piece)
        if not self.bulk_left and self.close_after_bulk:
            self.transport.close()

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self.send_bulk()


def _serve(protocol: Callable[[], asyncio.Protocol], conn: Connection) -> None:
    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(protocol, "127.0.0.1", 0, backlog=1024)
        conn.send(server.sockets[0].getsockname()[1])
        stop = asyncio.Event()
        loop.add_reader(conn.fileno(), stop.set)  # the other end closed: the run is over
        await stop.wait()

    uvloop.run(serve())


def serve_in_process(
    context: multiprocessing.context.SpawnContext,
    stack: ExitStack,
    protocol: Callable[[], asyncio.Protocol],
) -> tuple[int, int]:
    """An asyncio server of ``protocol`` (a module-level class: it is pickled) on uvloop, in a
    process of its own on a free loopback port, stopped when ``stack`` closes: its port and PID."""
    parent, child = context.Pipe()
    process = context.Process(target=_serve, args=(protocol, child), daemon=True)
    process.start()
    stack.callback(process.kill)
    # Held by the stack: the service runs until this end closes.
    stack.callback(parent.close)
    port: int = parent.recv()
    assert process.pid is not None
    return port, process.pid


@contextmanager
def running(
    arguments: list[str],
    log: Path,
    environment: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process, stopped (SIGTERM, then SIGKILL) however the block ends."""
    with log.open("wb") as output:
        # A session of its own: Ctrl-C reaches the benchmark (and wrk), which then stops the
        # children itself, instead of killing them under a running measurement.
        process = subprocess.Popen(
            arguments,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=environment,
            cwd=cwd,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def run_main(main: Callable[[], None]) -> None:
    """Run a benchmark's ``main``: SIGTERM and Ctrl-C stop it the same way, its ``running``
    children stopped and its scratch directory removed on the way out."""

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted; processes stopped and the scratch directory removed", file=sys.stderr)
        sys.exit(130)


def checkout(commit: str, into: Path) -> Path:
    """The ``templater`` package as it was at ``commit`` (``git archive``), for a server started
    with ``source_tree``: nothing else of the repository, and no worktree to clean up."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPOSITORY), "archive", commit, "templater"],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        raise SystemExit(f"git archive {commit}: {archive.stderr.decode(errors='replace')}")
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def app(
    slug: str,
    url: str,
    *,
    share: str = "public",
    subdomain: bool = True,
    healthcheck: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An app as the apply API takes it, of agent ``main``."""
    return {
        "slug": slug,
        "agent": "main",
        "url": url,
        "command": None,
        "display_name": None,
        "icon": None,
        "external": False,
        "subdomain": subdomain,
        "share": share,
        "order": None,
        "hidden": False,
        "open_in": None,
        "group": None,
        "tooltip": None,
        "healthcheck": healthcheck,
        "subdomain_label": None,
        "access_url": None,
    }


@dataclass
class Templater:
    """A running server: its base URL, the admin's token, and where its logs go."""

    base: str
    token: str
    process: subprocess.Popen[bytes]
    root: Path
    environment: dict[str, str]

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    def call(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            f"{self.base}{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            raise SystemExit(f"{method} {path}: {error.code} {error.read()[:500]!r}") from None

    def apply(
        self,
        workspace: str,
        apps: list[dict[str, Any]],
        agents: tuple[str, ...] = ("main",),
        address: str | None = None,
    ) -> None:
        """Apply ``apps`` into the admin's ``workspace``; ``address`` is for a server from before
        agents (it dials the app itself at that address)."""
        specs: list[dict[str, Any]] = [{"name": name} for name in agents]
        if address is not None:
            specs = [{**spec, "address": address} for spec in specs]
        body = {
            "expected_version": 0,
            "source": {},
            "variables": {},
            "agents": specs,
            "apps": apps,
        }
        self.call("PUT", f"/api/v1/workspaces/admin/{workspace}", body)

    def start_agent(self, stack: ExitStack, workspace: str, agent: str = "main") -> int:
        """A connected ``templater agent`` for the admin's ``workspace``; its PID."""
        path = f"/api/v1/workspaces/admin/{workspace}/agents"
        token = self.call("POST", f"{path}/{agent}/token")["token"]
        name = f"agent-{workspace}-{agent}"
        process = stack.enter_context(
            running(
                [
                    *(sys.executable, "-m", "templater", "agent", "--url", self.base),
                    *("--state-dir", str(self.root / name)),
                ],
                self.root / f"{name}.log",
                {**self.environment, "TEMPLATER_AGENT_TOKEN": token},
                cwd=self.root,
            )
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            states = {record["name"]: record["state"] for record in self.call("GET", path)}
            if states.get(agent) == "connected":
                return process.pid
            if process.poll() is not None:
                break
            time.sleep(0.1)
        log = (self.root / f"{name}.log").read_text(errors="replace")
        raise SystemExit(f"agent {workspace}.{agent} did not connect:\n{log[-2000:]}")


@contextmanager
def templater_server(
    root: Path,
    *options: str,
    source_tree: Path | None = None,
    name: str = "server",
) -> Iterator[Templater]:
    """``templater server`` on a free loopback port with its data in ``root/name``; from
    ``source_tree`` when given (a ``checkout``)."""
    port = free_port()
    # Started in the scratch directory: ``python -m`` puts its working directory first on the
    # path, where a checkout of the repository would shadow ``source_tree``.
    environment = {**os.environ, "PYTHONPATH": str(source_tree or REPOSITORY)}
    data = root / name
    command = [sys.executable, "-m", "templater", "server", "--data-dir", str(data)]
    command += ["--listen", f"127.0.0.1:{port}", *options]
    with running(command, root / f"{name}.log", environment, cwd=root) as process:
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for(f"{base}/api/v1/health")
        except OSError:
            log = (root / f"{name}.log").read_text(errors="replace")
            raise SystemExit(f"{name} did not start:\n{log[-2000:]}") from None
        token = (data / "admin-token").read_text().strip()
        yield Templater(base, token, process, root, environment)
