from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from templater.evaluate import Evaluation, ResolvedResource, evaluate_template
from templater.options import EvalOptions

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
EXAMPLES = ROOT / "examples"

Evaluate = Callable[..., Evaluation]


def write_tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.fixture
def evaluate_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Evaluate:
    """Write ``files`` into a fresh directory (the working directory) and evaluate it."""
    monkeypatch.chdir(tmp_path)

    def run(files: dict[str, str], options: EvalOptions | None = None) -> Evaluation:
        write_tree(tmp_path, files)
        return evaluate_template(Path("."), options)

    return run


def resource(evaluation: Evaluation, address: str) -> ResolvedResource:
    for found in evaluation.resources:
        if found.address == address:
            return found
    known = ", ".join(found.address for found in evaluation.resources)
    raise AssertionError(f"no {address} among: {known}")


def corpus_modules() -> list[Path]:
    return sorted({path.parent for path in CORPUS.rglob("*.tf")})
