"""The command line as a user runs it: a real process, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import hcl2.parser

from .conftest import CORPUS, EXAMPLES, ROOT, corpus_modules, needs_corpus


def templater(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "templater", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_inspect_json_lists_expanded_apps_with_positions() -> None:
    result = templater("inspect", "--format", "json", "examples/counted-apps/main.tf")
    assert result.returncode == 0, result.stderr
    resources = json.loads(result.stdout)
    addresses = [entry["address"] for entry in resources]
    assert addresses == [
        "coder_agent.main",
        'coder_app.service["api"]',
        'coder_app.service["web"]',
        "coder_app.notebook[0]",
        "coder_app.notebook[1]",
        "coder_app.terminal[0]",
    ]
    api = resources[1]
    assert {"address", "type", "file", "line", "attributes"} <= api.keys()
    assert api["file"] == "examples/counted-apps/main.tf"
    assert api["attributes"]["share"]["value"] == "authenticated"
    assert api["attributes"]["agent_id"]["value"] == {"unknown": "coder_agent.main.id"}
    # The share came from the variable's default, not from the app block.
    origin = api["attributes"]["share"]["origin"]
    assert (origin["line"], origin["column"]) == (18, 34)


def test_inspect_takes_variables_workspace_and_owner() -> None:
    result = templater(
        "inspect",
        "--format",
        "json",
        "--var",
        "code_server_port=9000",
        "--workspace",
        "dev",
        "--owner",
        "alice",
        str(EXAMPLES / "docker-code-server"),
    )
    assert result.returncode == 0, result.stderr
    app = next(r for r in json.loads(result.stdout) if r["address"] == "coder_app.code-server")
    assert app["attributes"]["url"]["value"] == "http://localhost:9000/?folder=/home/alice"


def test_inspect_text_shows_values_and_positions() -> None:
    result = templater("inspect", "examples/module-app")
    assert result.returncode == 0, result.stderr
    assert "module.dashboard.coder_app.web" in result.stdout
    assert 'share        = "authenticated"' in result.stdout
    assert "(known after apply: coder_agent.dev.id)" in result.stdout


def test_missing_path_and_bad_var_are_usage_errors() -> None:
    missing = templater("inspect", "no/such/dir")
    assert missing.returncode == 2
    assert "no/such/dir: no such file or directory" in missing.stderr
    bad = templater("inspect", "--var", "novalue", "examples/module-app")
    assert bad.returncode == 2
    assert "--var expects NAME=VALUE" in bad.stderr


def test_syntax_error_is_reported_with_position_and_exit_1(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('resource "coder_app" "x" {\n  slug = = "a"\n}\n')
    result = templater("inspect", "main.tf", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("main.tf:2:")
    assert "error[syntax]" in result.stderr
    assert "Traceback" not in result.stderr


def test_grammar_cache_lives_in_the_user_cache_directory(tmp_path: Path) -> None:
    result = templater("inspect", "examples/module-app", env={"XDG_CACHE_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    cached = list((tmp_path / "templater").glob("hcl2-*-grammar.bin"))
    assert len(cached) == 1 and cached[0].stat().st_size > 0
    assert not Path(hcl2.parser.__file__).with_name(".lark_cache.bin").exists()


@needs_corpus
def test_inspect_over_the_whole_corpus_and_examples_finds_every_app() -> None:
    valid = [path for path in sorted(EXAMPLES.glob("*/")) if path.name != "broken"]
    directories = [*corpus_modules(), *valid]
    result = templater("inspect", "--format", "json", *map(str, directories))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert " error[" not in result.stderr
    resources = json.loads(result.stdout)
    corpus_blocks = {
        (entry["file"], entry["name"])
        for entry in resources
        if entry["type"] == "coder_app" and entry["module"] is None and str(CORPUS) in entry["file"]
    }
    assert len(corpus_blocks) == 38
