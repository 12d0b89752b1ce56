"""Lint benchmark: ``templater lint`` over every corpus module, cold and warm, against
``hcl2.loads()`` over the same files in one process.

Run by hand: ``python bench/lint_bench.py [--corpus ../shared/corpus] [--rounds 3]``.
templater runs as users run it, a whole process (start-up included) over all the module
directories at once, with a private cache directory: cold is ``--no-cache`` (every file parsed,
every module evaluated), warm is a run over primed caches (parse cache and result cache). Figures are medians over the rounds; peak memory is the largest
resident set of the templater processes.
"""

from __future__ import annotations

import compileall
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from engine_bench import baseline_seconds, bench_arguments, corpus_files, corpus_modules

import templater

TYPICAL_TEMPLATE = Path("coder-registry/registry/coder/templates/docker")


def run_templater(arguments: list[str], cache: Path) -> float:
    """Seconds for one whole ``templater`` process."""
    environment = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    # Installed, templater's modules are compiled once (pip does it); a run that compiled them
    # every time would time the compiler.
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "templater", *arguments],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if completed.returncode not in (0, 1):
        raise SystemExit(f"templater failed: {completed.stderr}")
    return elapsed


def median_of(rounds: int, measure: object) -> tuple[float, list[float]]:
    assert callable(measure)
    times = sorted(float(measure()) for _ in range(rounds))
    return statistics.median(times), times


def main() -> None:
    args = bench_arguments(__doc__.splitlines()[0])
    modules = corpus_modules(args.corpus)
    files = corpus_files(modules)
    print(f"corpus: {len(modules)} modules, {len(files)} .tf files")
    lint = ["lint", "--format", "json", *map(str, modules)]

    with tempfile.TemporaryDirectory() as scratch:
        cache = Path(scratch)
        compileall.compile_dir(Path(templater.__file__).parent, quiet=1)
        # Build the grammar's own cache once, outside the timings (python-hcl2 pays it too).
        run_templater([*lint[:3], "--no-cache", str(args.corpus / TYPICAL_TEMPLATE)], cache)
        base, base_times = median_of(args.rounds, lambda: baseline_seconds(files))
        cold, cold_times = median_of(
            args.rounds, lambda: run_templater([*lint, "--no-cache"], cache)
        )
        run_templater(lint, cache)
        warm, warm_times = median_of(args.rounds, lambda: run_templater(lint, cache))
        one = [*lint[:3], str(args.corpus / TYPICAL_TEMPLATE)]
        single, single_times = median_of(max(args.rounds, 5), lambda: run_templater(one, cache))
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    def show(name: str, value: float, times: list[float]) -> None:
        print(f"{name:<44} median {value:6.2f} s  {[round(t, 2) for t in times]}")

    show("hcl2.loads() over the same files, 1 process", base, base_times)
    show("templater lint, cold (--no-cache)", cold, cold_times)
    show("templater lint, warm", warm, warm_times)
    show(f"templater lint {TYPICAL_TEMPLATE.name} (one template)", single, single_times)
    print(f"ratio cold / baseline  {cold / base:.2f}x   (target <= 0.25x)")
    print(f"ratio warm / baseline  {warm / base:.2f}x   (target <= 0.02x)")
    print(f"one template           {single:.2f} s    (target <= 0.12 s)")
    print(f"peak RSS of a templater process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
