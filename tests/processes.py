"""A server's processes as the tests see them from outside: the main process and its workers,
and how much resident memory each has grown by while a test ran (Linux /proc)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def family(pid: int) -> list[int]:
    """``pid`` and its descendants (a server's front-port workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *(member for child in children for member in family(int(child)))]


def _resident_bytes(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    line = next((line for line in status.splitlines() if line.startswith("VmRSS:")), None)
    return int(line.split()[1]) * 1024 if line is not None else None


@contextmanager
def memory_growth(pid: int) -> Iterator[Callable[[], dict[int, int]]]:
    """Samples the resident memory of ``pid`` and its descendants every 20 ms while the block
    runs; gives a function that says, for each process seen, how far its peak rose above what
    it had at the start."""
    stop = threading.Event()
    samples: dict[int, list[int]] = {}

    def sample() -> None:
        while not stop.is_set():
            for member in family(pid):
                resident = _resident_bytes(member)
                if resident is not None:
                    samples.setdefault(member, []).append(resident)
            time.sleep(0.02)

    threading.Thread(target=sample, daemon=True).start()
    time.sleep(0.2)
    baseline = {member: max(values) for member, values in samples.items()}

    def growth() -> dict[int, int]:
        return {
            member: max(values) - baseline.get(member, values[0])
            for member, values in list(samples.items())
        }

    try:
        yield growth
    finally:
        stop.set()
