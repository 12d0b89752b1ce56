"""A server whose SQLite files fail under it, or before it starts, says so in one line naming the
file, never with a traceback (SPEC §15): a real server process on a real database, and the files
broken as an operator or a full disk would break them."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import needs, require
from .processes import family
from .test_server import EVENT_DEADLINE, Server, eventually, free_port, launch_server, start_server

needs_chattr = needs(
    shutil.which("chattr") is not None, "chattr is missing (apt-get install e2fsprogs)"
)

CRASH_REPORTS = ("Traceback", "Fatal Python error", "most recent call first")
"""What Python and faulthandler print about a crash, which an operator must not have to read."""


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    """``path`` made immutable (``chattr +i``) for the block, as an operator could."""
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    require(made.returncode == 0, f"chattr +i does not work here: {made.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def write_something(server: Server) -> None:
    """A request that makes the main process write to the database (it may never answer)."""
    with contextlib.suppress(httpx.HTTPError), server.api(server.admin_token) as api:
        api.post("/api/v1/users", json={"name": "bob"})


def assert_said(server: Server, line: str) -> None:
    """The server's log came to hold ``line``, and no crash report."""
    assert eventually(lambda: line in server.log()), server.log()
    assert not any(report in server.log() for report in CRASH_REPORTS), server.log()


def test_a_shared_memory_file_cut_short_under_the_server_is_named_as_it_dies(
    tmp_path: Path,
) -> None:
    """Truncating the ``-shm`` file that SQLite maps makes the next access to it a SIGBUS."""
    server = start_server(tmp_path / "data", tmp_path / "home", "--workers", "1")
    shared_memory = server.data_dir / "templater.db-shm"
    os.truncate(shared_memory, 0)
    write_something(server)
    assert server.process.wait(timeout=EVENT_DEADLINE) == -signal.SIGBUS
    assert_said(server, "the server died of SIGBUS: SQLite could not read or write")
    assert_said(server, f"file={shared_memory}")


@needs_chattr
def test_a_shared_memory_file_made_immutable_under_the_server_is_named_as_it_dies(
    tmp_path: Path,
) -> None:
    server = start_server(tmp_path / "data", tmp_path / "home", "--workers", "1")
    shared_memory = server.data_dir / "templater.db-shm"
    with immutable(shared_memory):
        write_something(server)
        assert server.process.wait(timeout=EVENT_DEADLINE) == -signal.SIGBUS
    assert_said(
        server,
        "the server died of SIGBUS: SQLite could not read or write the database's "
        "shared-memory file (made immutable? truncated?); start it again once the file can be "
        f"written file={shared_memory}",
    )


def test_a_worker_dead_of_sigbus_is_named_by_the_main_process(tmp_path: Path) -> None:
    """Which process a fault in the shared memory kills first is up to the requests: a worker
    is sent the SIGBUS here, and the main process, which goes on serving, says what it means."""
    server = start_server(tmp_path / "data", tmp_path / "home", "--workers", "2")
    try:

        def workers() -> list[int]:
            return [
                pid
                for pid in family(server.process.pid)[1:]
                if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()
            ]

        assert eventually(lambda: len(workers()) == 1), "the worker never started"
        os.kill(workers()[0], signal.SIGBUS)
        shared_memory = server.data_dir / "templater.db-shm"
        assert_said(server, "a worker died of SIGBUS: SQLite could not read or write")
        assert_said(server, f"worker=1 file={shared_memory}")
        assert httpx.get(f"{server.url}/api/v1/health").status_code == 200
    finally:
        server.process.terminate()
        server.process.wait(timeout=EVENT_DEADLINE)


@needs_chattr
@pytest.mark.parametrize("suffix", ["", "-wal", "-shm"])
def test_a_database_file_that_cannot_be_written_is_refused_at_start(
    tmp_path: Path, suffix: str
) -> None:
    """SQLite would open such a file read-only and fail later, or die of SIGBUS on it."""
    data = tmp_path / "data"
    killed = start_server(data, tmp_path / "home")
    killed.process.kill()  # the WAL and shared-memory files stay, as after a crash
    killed.process.wait(timeout=EVENT_DEADLINE)
    broken = data / f"templater.db{suffix}"
    log = tmp_path / "again.log"
    with immutable(broken), log.open("w") as output:
        again = launch_server(data, free_port(), output)
        try:
            status = again.wait(timeout=EVENT_DEADLINE)
        finally:
            again.kill()
    said = log.read_text()
    assert status == 2, said
    assert f"{broken} is not writable (Operation not permitted; immutable? see lsattr)" in said
    assert not any(report in said for report in CRASH_REPORTS), said
