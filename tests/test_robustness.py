"""Bad input never escapes as an exception: mangled corpus files give syntax or evaluation
diagnostics, never a traceback."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from templater.engine.evaluate import evaluate_template
from templater.engine.parser import parse_file

from .conftest import CORPUS, needs_corpus

CORPUS_FILES = sorted(CORPUS.rglob("*.tf"))
FRAGMENTS = [
    "{",
    "}",
    '"',
    "${",
    "%{",
    "<<EOT\n",
    "\n",
    "[",
    "]",
    "(",
    ")",
    "=",
    ",",
    "~",
    "\\",
    "\r\n",
    "...",
]


@st.composite
def mangled_sources(draw: st.DrawFn) -> str:
    """A corpus file with characters cut, duplicated and inserted."""
    path = draw(st.sampled_from(CORPUS_FILES))
    text = path.read_text(encoding="utf-8")
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        if not text:
            break
        start = draw(st.integers(min_value=0, max_value=len(text) - 1))
        length = draw(st.integers(min_value=1, max_value=40))
        action = draw(st.sampled_from(["cut", "duplicate", "insert"]))
        if action == "cut":
            text = text[:start] + text[start + length :]
        elif action == "duplicate":
            text = text[:start] + text[start : start + length] + text[start:]
        else:
            fragment = draw(st.sampled_from(FRAGMENTS) | st.text(max_size=5))
            text = text[:start] + fragment + text[start:]
    return text


@needs_corpus
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=mangled_sources())
def test_mangled_files_give_diagnostics_not_exceptions(
    source: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    parsed = parse_file("main.tf", source)
    if parsed.problem is not None:
        span = parsed.problem.span
        assert span.file == "main.tf" and span.line >= 1 and span.column >= 1
        assert parsed.problem.message
        return
    directory = tmp_path_factory.mktemp("mangled")
    (directory / "main.tf").write_text(source, encoding="utf-8")
    evaluation = evaluate_template(directory)
    for diagnostic in evaluation.diagnostics:
        assert diagnostic.rule in {
            "syntax",
            "eval-error",
            "reference-undeclared",
            "variable-validation",
            "module-not-inspected",
            "file-not-inspected",
            "variable-unset",
        }
