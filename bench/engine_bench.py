"""Template engine benchmark: load + evaluate every corpus module against ``hcl2.loads()``.

Run by hand: ``python bench/engine_bench.py [--corpus ../shared/corpus] [--rounds 3]``.
Both sides run in this one process with the grammar already built, single-threaded; the
figures are medians over the rounds. Peak memory is measured in a child process evaluating a
generated 1 MB template with 2,000 apps.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"


def corpus_modules(corpus: Path) -> list[Path]:
    """Every template and module directory of the corpus: each directory holding .tf files."""
    return sorted({path.parent for path in corpus.rglob("*.tf")})


def corpus_files(modules: list[Path]) -> list[Path]:
    return sorted(path for directory in modules for path in directory.glob("*.tf"))


def bench_arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--rounds", type=int, default=3)
    return parser.parse_args()


def baseline_seconds(files: list[Path]) -> float:
    import hcl2
    import hcl2.parser

    hcl2.parser.PARSER_FILE = Path(tempfile.gettempdir()) / "templater-bench-hcl2.bin"
    texts = [path.read_text(encoding="utf-8") for path in files]
    hcl2.parser.parser()
    start = time.perf_counter()
    for text in texts:
        with contextlib.suppress(Exception):
            hcl2.loads(text)
    return time.perf_counter() - start


def engine_seconds(modules: list[Path]) -> float:
    from templater.engine.evaluate import evaluate_template

    start = time.perf_counter()
    for directory in modules:
        evaluate_template(directory)
    return time.perf_counter() - start


def generate_large_template(directory: Path, apps: int = 2000) -> int:
    """A template of about 1 MB: one agent and ``apps`` apps with healthchecks."""
    parts = [
        'terraform {\n  required_providers {\n    coder = { source = "coder/coder" }\n  }\n}\n',
        'variable "base_port" {\n  type    = number\n  default = 10000\n}\n',
        'resource "coder_agent" "main" {\n  arch = "amd64"\n  os   = "linux"\n}\n',
    ]
    for index in range(apps):
        parts.append(
            f'resource "coder_app" "app_{index}" {{\n'
            f"  agent_id     = coder_agent.main.id\n"
            f'  slug         = "app-{index}"\n'
            f'  display_name = "Application number {index} of the benchmark template"\n'
            f'  tooltip      = "Opens application {index}: a generated app for measuring the engine"\n'
            f'  icon         = "/icon/code.svg"\n'
            f'  url          = "http://localhost:${{var.base_port + {index}}}/?folder=/home/coder"\n'
            f"  subdomain    = true\n"
            f'  share        = "owner"\n'
            f"  order        = {index}\n"
            f'  group        = "Generated applications"\n'
            f"  healthcheck {{\n"
            f'    url       = "http://localhost:${{var.base_port + {index}}}/healthz"\n'
            f"    interval  = 5\n"
            f"    threshold = 6\n"
            f"  }}\n"
            f"}}\n\n"
        )
    text = "".join(parts)
    (directory / "main.tf").write_text(text, encoding="utf-8")
    return len(text.encode())


_PEAK_PROBE = """
import resource, sys
from pathlib import Path
from templater.engine.evaluate import evaluate_template
evaluation = evaluate_template(Path(sys.argv[1]))
apps = len(evaluation.of_type("coder_app"))
print(apps, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_memory(directory: Path) -> tuple[int, float]:
    output = subprocess.run(
        [sys.executable, "-c", _PEAK_PROBE, str(directory)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return int(output[0]), int(output[1]) / 1024


def main() -> None:
    args = bench_arguments(__doc__.splitlines()[0])
    modules = corpus_modules(args.corpus)
    files = corpus_files(modules)
    size = sum(path.stat().st_size for path in files)
    print(f"corpus: {len(modules)} modules, {len(files)} .tf files, {size / 1024:.0f} KB")

    from templater.engine.parser import parse_text

    parse_text("x = 1\n", "warm-up.tf")  # build or load the grammar outside the timings
    baseline = [baseline_seconds(files) for _ in range(args.rounds)]
    engine = [engine_seconds(modules) for _ in range(args.rounds)]
    base, ours = statistics.median(baseline), statistics.median(engine)
    print(f"hcl2.loads() over the same files  median {base:6.2f} s  {sorted(baseline)}")
    print(f"templater load + evaluate         median {ours:6.2f} s  {sorted(engine)}")
    print(f"ratio engine / baseline           {ours / base:.2f}x   (target <= 0.60x)")

    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        size = generate_large_template(directory)
        apps, peak = peak_memory(directory)
        print(
            f"generated template {size / 1e6:.2f} MB, {apps} apps: peak RSS {peak:.0f} MB"
            "   (target < 300 MB)"
        )


if __name__ == "__main__":
    main()
