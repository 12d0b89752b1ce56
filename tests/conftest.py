from __future__ import annotations

import os
import shutil
import signal
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from templater.engine.evaluate import Evaluation, ResolvedResource, evaluate_template
from templater.engine.functions import FunctionContext, call_function
from templater.engine.options import EvalOptions
from templater.engine.values import EvalError, Value

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
EXAMPLES = ROOT / "examples"

IN_CI = os.environ.get("CI") == "true"
"""`.ci/run` installs everything the tests need, so there a missing piece fails a test."""


def require(available: bool, reason: str) -> None:
    """Skip the running test, saying why, when something it needs is not on this machine; under
    ``CI=true`` fail it instead, since CI must run every test."""
    if not available:
        if IN_CI:
            pytest.fail(f"{reason} (CI=true: CI must run this test)")
        pytest.skip(reason)


def needs(available: bool, reason: str) -> pytest.MarkDecorator:
    """A mark for a test that needs ``available`` to hold: skipped with ``reason`` without it,
    and failed without it under ``CI=true`` (see :func:`require`)."""
    return pytest.mark.needs(available=available, reason=reason)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs(available, reason): skip (fail in CI) without it")


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("needs"):
        require(mark.kwargs["available"], mark.kwargs["reason"])


needs_corpus = needs(CORPUS.is_dir(), f"the shared corpus is not at {CORPUS}")
CHROMIUM = Path("/usr/bin/chromium")
"""Debian's chromium, which the browser tests drive with Playwright (never a downloaded one)."""
needs_chromium = needs(
    CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does it)"
)
needs_git_and_precommit = needs(
    shutil.which("git") is not None and shutil.which("pre-commit") is not None,
    "needs git and pre-commit (pip install -e '.[dev]')",
)

Evaluate = Callable[..., Evaluation]


def ctrl_c_reaches_it() -> None:
    """Run in a child before the CLI starts (``preexec_fn``): SIGINT does what a terminal's
    Ctrl-C does, even where the tests run with it ignored (as a background job of a script)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


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
        marks=needs(
            POSTGRES_URL is not None,
            "TEMPLATER_TEST_POSTGRES_URL is not set (README: Development says how)",
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


def no_templates(text: str, variables: dict[str, Value], file_name: str) -> Value:
    raise AssertionError("no template expected")


CTX = FunctionContext(Path("."), no_templates)
"""A function context for calling library functions directly (no template rendering)."""


def call(name: str, *args: Value, ctx: FunctionContext = CTX) -> Value:
    return call_function(name, list(args), ctx)


def error(name: str, *args: Value, ctx: FunctionContext = CTX) -> str:
    """The message of the error a function call raises."""
    with pytest.raises(EvalError) as caught:
        call(name, *args, ctx=ctx)
    return caught.value.message
