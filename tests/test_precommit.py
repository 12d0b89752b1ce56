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


def _pre_commit(repository: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["pre-commit", "run", "--all-files", "--color", "never"],
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
