"""The compiled grammar is cached once per user: only the very first run compiles it.

Each run is a fresh process with its own XDG_CACHE_HOME, as users run templater. Whether a run
compiled the grammar is read from Lark itself: the child counts its calls of Lark's grammar
loader, which only a build makes (a load from the cache never reads the grammar).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CHILD = """
import lark.lark

builds = 0
load_grammar = lark.lark.load_grammar


def counting(*args, **kwargs):
    global builds
    builds += 1
    return load_grammar(*args, **kwargs)


lark.lark.load_grammar = counting
from templater.engine.parser import parse_text

call = parse_text('x = core::upper("a")\\n', "main.tf").attributes["x"].expr
assert call.name == "core::upper", call
print(builds)
"""


def builds_in_fresh_process(cache_home: Path) -> int:
    """How many times a new process compiled the grammar to parse one file."""
    completed = subprocess.run(
        [sys.executable, "-c", CHILD],
        env={**os.environ, "XDG_CACHE_HOME": str(cache_home)},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    return int(completed.stdout.strip())


def cache_files(cache_home: Path) -> list[Path]:
    return sorted((cache_home / "templater").glob("hcl2-*"))


def test_only_the_first_run_compiles_the_grammar(tmp_path: Path) -> None:
    assert builds_in_fresh_process(tmp_path) == 1
    [cache] = cache_files(tmp_path)  # no private file left behind
    assert cache.name.endswith("-grammar.bin")
    first = cache.stat()

    assert builds_in_fresh_process(tmp_path) == 0
    assert cache_files(tmp_path) == [cache]
    second = cache.stat()
    # The second run read the cache and wrote nothing: the same file, untouched.
    assert (second.st_ino, second.st_mtime_ns, second.st_size) == (
        first.st_ino,
        first.st_mtime_ns,
        first.st_size,
    )


def test_a_damaged_cache_is_compiled_again_and_replaced(tmp_path: Path) -> None:
    assert builds_in_fresh_process(tmp_path) == 1
    [cache] = cache_files(tmp_path)
    whole = cache.read_bytes()
    cache.write_bytes(whole[: len(whole) // 2])  # as a disk that filled up would leave it

    assert builds_in_fresh_process(tmp_path) == 1
    assert cache_files(tmp_path) == [cache]
    assert cache.stat().st_size > len(whole) // 2
    assert builds_in_fresh_process(tmp_path) == 0
