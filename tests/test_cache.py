"""The parse and result caches: fast when nothing changed, never stale, safe when shared."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import EXAMPLES, ROOT

APP = (
    'resource "coder_agent" "main" {\n  arch = "amd64"\n  os   = "linux"\n}\n'
    'resource "coder_app" "web" {\n  agent_id = coder_agent.main.id\n  slug     = "web"\n'
    '  url      = "http://localhost:8080"\n  icon     = trimspace(file("${path.module}/icon.txt"))\n}\n'
)


def lint(directory: Path, cache: Path, *extra: str) -> tuple[int, list[dict[str, object]]]:
    result = subprocess.run(
        [sys.executable, "-m", "templater", "lint", "--format", "json", *extra, str(directory)],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_CACHE_HOME": str(cache)},
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode in (0, 1), result.stderr
    diagnostics = json.loads(result.stdout)["diagnostics"]
    return result.returncode, [d for d in diagnostics if d["severity"] != "info"]


@pytest.fixture
def template(tmp_path: Path) -> Path:
    directory = tmp_path / "template"
    directory.mkdir()
    (directory / "main.tf").write_text(APP)
    (directory / "icon.txt").write_text("/icon/code.svg\n")
    return directory


def test_cached_runs_see_every_change(template: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert lint(template, cache) == (0, [])
    assert lint(template, cache) == (0, [])  # from the cache
    assert any((cache / "templater").glob("lint-v*/*/*"))
    assert any((cache / "templater").glob("parse-v*/*/*"))

    (template / "main.tf").write_text(APP.replace('slug     = "web"', 'slug     = "Web"'))
    status, found = lint(template, cache)
    assert status == 1 and [d["rule"] for d in found] == ["app-slug-format"]

    (template / "main.tf").write_text(APP)
    (template / "icon.txt").write_text("icon.svg\n")  # a file the template reads
    assert [d["rule"] for d in lint(template, cache)[1]] == ["app-icon-format"]

    (template / "icon.txt").write_text("/icon/code.svg\n")
    (template / "extra.tf").write_text('resource "coder_app" "more" {\n  slug = "more"\n}\n')
    assert [d["rule"] for d in lint(template, cache)[1]] == ["app-missing-attribute"]

    (template / "extra.tf").unlink()
    assert lint(template, cache) == (0, [])
    assert lint(template, cache, "--var", "unused=1") == (0, [])


def test_no_cache_writes_nothing(template: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert lint(template, cache, "--no-cache") == (0, [])
    assert not (cache / "templater" / "lint-v1").exists()


def test_damaged_entries_are_redone(template: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    lint(template, cache)
    for entry in (cache / "templater").glob("*-v*/*/*"):
        entry.write_bytes(b"not a pickle")
    assert lint(template, cache) == (0, [])


def test_concurrent_runs_share_a_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    directories = [str(path) for path in sorted(EXAMPLES.glob("*/")) if any(path.glob("*.tf"))]
    command = [sys.executable, "-m", "templater", "lint", "--format", "json", *directories]
    environment = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    runs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=environment, cwd=ROOT)
        for _ in range(4)
    ]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert all(run.returncode == 0 for run in runs)
    assert len(set(outputs)) == 1
    leftovers = list((cache / "templater").rglob("*.tmp"))
    assert leftovers == []
