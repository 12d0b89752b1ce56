"""The pre-commit hook as users run it: `pre-commit run` in a scratch repository that uses this
repository's .pre-commit-hooks.yaml at its current commit."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .conftest import EXAMPLES, ROOT, needs_git_and_precommit

pytestmark = needs_git_and_precommit


def _git(repository: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args],
        cwd=repository,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def _pre_commit(repository: Path, home: Path, *files: str) -> subprocess.CompletedProcess[str]:
    """``pre-commit run`` on ``files`` (``--files …``), or on all files."""
    return subprocess.run(
        ["pre-commit", "run", *(files or ["--all-files"]), "--color", "never"],
        cwd=repository,
        capture_output=True,
        text=True,
        env={
            "PATH": str(Path(shutil.which("pre-commit") or "").parent) + ":/usr/bin:/bin",
            "HOME": str(home),
            "PRE_COMMIT_HOME": str(home / "pre-commit"),
        },
        timeout=600,
    )


def test_hook_lints_each_module_once_and_fails_on_errors(tmp_path: Path) -> None:
    revision = _git(ROOT, "rev-parse", "HEAD")
    repository = tmp_path / "templates"
    good = repository / "templates" / "services"
    bad = repository / "templates" / "broken"
    good.mkdir(parents=True)
    bad.mkdir(parents=True)
    shutil.copy(EXAMPLES / "counted-apps" / "main.tf", good / "main.tf")
    (good / "outputs.tf").write_text('output "agent" {\n  value = coder_agent.main.id\n}\n')
    shutil.copy(EXAMPLES / "broken" / "app-arguments" / "main.tf", bad / "main.tf")
    (repository / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {ROOT}\n    rev: {revision}\n    hooks:\n      - id: templater-lint\n"
    )
    _git(repository, "init", "-q")
    _git(repository, "add", ".")
    _git(repository, "commit", "-q", "-m", "templates")

    failing = _pre_commit(repository, tmp_path)
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "templates/broken/main.tf:9:18: error[app-slug-format]" in failing.stdout
    # Three .tf files in two directories: two modules, each linted once.
    assert "in 2 modules (3 files" in failing.stdout

    _git(repository, "rm", "-q", "-r", "templates/broken")
    _git(repository, "commit", "-q", "-m", "fix")
    passing = _pre_commit(repository, tmp_path)
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "Passed" in passing.stdout


def test_hook_runs_on_variable_values_json_and_lock_files(tmp_path: Path) -> None:
    # Each of these changes what its module means, so a commit of it alone lints the module.
    revision = _git(ROOT, "rev-parse", "HEAD")
    repository = tmp_path / "templates"
    module = repository / "web"
    module.mkdir(parents=True)
    files = {
        "main.tf": 'variable "slug" {\n  type = string\n}\n'
        + 'resource "coder_agent" "main" {\n  os = "linux"\n  arch = "amd64"\n}\n'
        + 'resource "coder_app" "web" {\n  agent_id = coder_agent.main.id\n'
        + "  slug = var.slug\n}\n",
        "terraform.tfvars": 'slug = "Bad_Slug"\n',
        "web.auto.tfvars.json": '{"slug": "Bad_Slug"}\n',
        "outputs.tf.json": '{"output": {"slug": {"value": "${var.slug}"}}}\n',
        ".terraform.lock.hcl": 'provider "registry.terraform.io/coder/coder" {\n'
        + '  version = "2.5.0"\n}\n',
    }
    for name, text in files.items():
        (module / name).write_text(text)
    (repository / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {ROOT}\n    rev: {revision}\n    hooks:\n      - id: templater-lint\n"
    )
    _git(repository, "init", "-q")
    _git(repository, "add", ".")
    _git(repository, "commit", "-q", "-m", "template")
    for name in files:
        if name == "main.tf":
            continue
        result = _pre_commit(repository, tmp_path, "--files", f"web/{name}")
        assert result.returncode == 1, (name, result.stdout + result.stderr)
        assert "error[app-slug-format]" in result.stdout, name
