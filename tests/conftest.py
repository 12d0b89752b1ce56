from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from templater.engine.evaluate import Evaluation, ResolvedResource, evaluate_template
from templater.engine.options import EvalOptions

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


POSTGRES_URL = os.environ.get("TEMPLATER_TEST_POSTGRES_URL")
"""A PostgreSQL server for the tests (`.ci/run` starts one), e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``."""

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(
            POSTGRES_URL is None, reason="TEMPLATER_TEST_POSTGRES_URL is not set"
        ),
    ),
]


@contextmanager
def postgres_schema() -> Iterator[str]:
    """The URL of a fresh schema on the test PostgreSQL server, dropped afterwards."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    assert POSTGRES_URL is not None
    base = make_url(POSTGRES_URL)
    if base.drivername == "postgresql":
        base = base.set(drivername="postgresql+psycopg")
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()
