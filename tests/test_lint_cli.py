"""`templater lint` and `templater rules` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import corpus_modules, needs_corpus
from .test_cli import templater

BROKEN = "examples/broken"


def test_valid_examples_pass_and_summary_counts_them() -> None:
    result = templater("lint", "examples/docker-code-server", "examples/module-app/main.tf")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("No problems in 2 modules (3 files, 3 apps)")


def test_json_report_has_the_documented_shape() -> None:
    result = templater("lint", "--format", "json", f"{BROKEN}/conflicts")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert list(report) == ["version", "diagnostics", "summary"]
    first = report["diagnostics"][0]
    assert list(first) == [
        "rule",
        "severity",
        "message",
        "file",
        "line",
        "column",
        "end_line",
        "end_column",
        "resource",
    ]
    assert first["file"] == f"{BROKEN}/conflicts/main.tf"
    assert report["summary"] == {
        "modules": 1,
        "files": 1,
        "apps": 4,
        "errors": 4,
        "warnings": 0,
        "infos": 0,
    }


def test_text_report_shows_a_code_frame_without_colour_when_piped() -> None:
    result = templater("lint", f"{BROKEN}/app-arguments")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    header = f"{BROKEN}/app-arguments/main.tf:9:18: error[app-slug-format]"
    index = next(i for i, line in enumerate(lines) if line.startswith(header))
    assert lines[index + 2].endswith(
        'slug         = "Code_Server"                 # app-slug-format: lower case and hyphens only'
    )
    assert lines[index + 3].index("^") == lines[index + 2].index('"Code_Server"')
    assert "\x1b[" not in result.stdout


def test_warnings_pass_unless_strict() -> None:
    directory = f"{BROKEN}/hostname-and-share"
    assert templater("lint", directory).returncode == 0
    assert templater("lint", "--strict", directory).returncode == 1


def test_max_share_and_exact_hostname_check() -> None:
    result = templater(
        "lint",
        "--format",
        "json",
        "--max-share",
        "authenticated",
        "--workspace",
        "my-long-workspace-name",
        "--owner",
        "alice",
        f"{BROKEN}/hostname-and-share",
    )
    rules = [d["rule"] for d in json.loads(result.stdout)["diagnostics"]]
    assert rules == ["app-hostname-too-long", "app-share-above-max", "app-hidden-presentational"]
    assert result.returncode == 1


def test_files_of_one_module_are_linted_once(tmp_path: Path) -> None:
    result = templater(
        "lint",
        "--format",
        "json",
        f"{BROKEN}/via-variable/main.tf",
        f"{BROKEN}/via-variable/variables.tf",
    )
    report = json.loads(result.stdout)
    assert report["summary"]["modules"] == 1
    assert len(report["diagnostics"]) == len(
        {(d["rule"], d["line"], d["file"]) for d in report["diagnostics"]}
    )


def test_github_format_annotations() -> None:
    result = templater("lint", "--format", "github", f"{BROKEN}/agents")
    lines = result.stdout.splitlines()
    assert lines[0].startswith(
        f"::error file={BROKEN}/agents/main.tf,line=2,endLine=2,col=24,endColumn=33,title=agent-name-format::"
    )


def test_usage_errors_exit_2() -> None:
    assert templater("lint", "does/not/exist").returncode == 2
    assert templater("lint", "--format", "xml", "examples").returncode == 2
    assert templater("lint", "--max-share", "everyone", "examples").returncode == 2


def test_rules_lists_and_explains() -> None:
    listing = templater("rules")
    assert listing.returncode == 0
    assert any(
        line.startswith("app-slug-format") and "error" in line
        for line in listing.stdout.splitlines()
    )
    explained = templater("rules", "app-healthcheck-range")
    assert explained.returncode == 0 and "initializing" in explained.stdout
    unknown = templater("rules", "app-slug")
    assert unknown.returncode == 2
    assert 'did you mean "app-slug-duplicate" or "app-slug-format"?' in unknown.stderr
    typo = templater("rules", "app-slug-fromat")
    assert 'did you mean "app-slug-format"?' in typo.stderr


@needs_corpus
def test_whole_corpus_lints_clean() -> None:
    directories = [str(path) for path in corpus_modules()]
    result = templater("lint", "--format", "json", "--no-cache", *directories)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["summary"]["modules"] == len(directories)
    problems = [d for d in report["diagnostics"] if d["severity"] != "info"]
    assert problems == []
    # Published templates leave some variables to whoever uses them.
    assert {d["rule"] for d in report["diagnostics"]} <= {
        "module-not-inspected",
        "file-not-inspected",
        "variable-unset",
    }


APP_MODULE = (
    'resource "coder_agent" "main" {\n  os = "linux"\n  arch = "amd64"\n}\n'
    'resource "coder_app" "web" {\n  agent_id = coder_agent.main.id\n  slug = "SLUG"\n}\n'
)


def _templates(root: Path) -> Path:
    """templates/ with two modules one and two levels down, one inside .terraform/ (laid out by
    terraform init) and one in a hidden directory: only the first two are the user's."""
    for place in ("docker", "k8s/small", "docker/.terraform/modules/x", ".old"):
        (root / place).mkdir(parents=True, exist_ok=True)
        (root / place / "main.tf").write_text(APP_MODULE)
    return root


def test_a_directory_without_tf_files_lints_every_module_below(tmp_path: Path) -> None:
    templates = _templates(tmp_path / "templates")
    result = templater("lint", "--format", "json", str(templates))
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["summary"]["modules"] == 2
    files = sorted({d["file"] for d in report["diagnostics"]})
    assert files == [str(templates / "docker/main.tf"), str(templates / "k8s/small/main.tf")]


def test_recursive_lints_the_directory_and_every_module_below(tmp_path: Path) -> None:
    templates = _templates(tmp_path / "templates")
    (templates / "main.tf").write_text(APP_MODULE)
    alone = json.loads(templater("lint", "--format", "json", str(templates)).stdout)
    assert alone["summary"]["modules"] == 1
    below = json.loads(templater("lint", "--recursive", "--format", "json", str(templates)).stdout)
    assert below["summary"]["modules"] == 3


def test_a_path_with_no_terraform_file_anywhere_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "docs" / "more").mkdir(parents=True)
    (tmp_path / "docs" / "README.md").write_text("# not a template\n")
    result = templater("lint", str(tmp_path / "docs"))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"templater: error: {tmp_path / 'docs'}: no Terraform files (*.tf, *.tf.json) here or in"
        " any directory below"
    )


def test_exclude_leaves_out_modules_by_name_or_by_path(tmp_path: Path) -> None:
    templates = _templates(tmp_path / "templates")

    def linted(*exclude: str) -> list[str]:
        flags = [arg for pattern in exclude for arg in ("--exclude", pattern)]
        result = templater("lint", "--format", "json", *flags, str(templates))
        return sorted({d["file"] for d in json.loads(result.stdout)["diagnostics"]})

    assert linted("k8s") == [str(templates / "docker/main.tf")]
    assert linted(str(templates / "k8s/small")) == [str(templates / "docker/main.tf")]
    assert linted("sm*") == [str(templates / "docker/main.tf")]
    everything = templater("lint", "--exclude", "docker", "--exclude", "k8s", str(templates))
    assert everything.returncode == 2
    assert "no Terraform files (*.tf, *.tf.json) here or in any directory below that" in (
        everything.stderr
    )


def test_the_readme_lints_the_examples_clean() -> None:
    result = templater("lint", "examples/", "--exclude", "broken")
    assert result.returncode == 0, result.stdout + result.stderr
    broken = templater("lint", "examples/broken")
    assert broken.returncode == 1


def test_the_rules_document_is_the_catalogue() -> None:
    # SARIF's helpUri links each rule to its section of docs/rules.md.
    written = (Path(__file__).resolve().parent.parent / "docs" / "rules.md").read_text()
    generated = templater("rules", "--markdown").stdout
    assert written == generated, "run: templater rules --markdown > docs/rules.md"
    assert "\n## `app-slug-format`\n" in written
