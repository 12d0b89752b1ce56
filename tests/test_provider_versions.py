"""Rules hold from the Coder provider release they came with (SPEC §14).

The release a template gets: its lock file's, else the newest known release its constraints
(every module's) allow, else the newest; ``--provider-version`` overrides. Small templates are
written here for each case; the catalogue's facts are checked against the provider's releases.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from templater.engine.diagnostics import Diagnostic, Severity
from templater.engine.options import EvalOptions, InputOptions, LintOptions
from templater.engine.versions import Version, allows, newest_allowed, parse_constraint
from templater.lint.releases import NEWEST, RELEASES
from templater.lint.resultcache import ResultCache
from templater.lint.rules import RULES, explain, oldest_described, version_parts
from templater.lint.rules.schemadata import boundaries, load_schema, schema_in, schema_parts
from templater.lint.runner import lint_directories, lint_module

from .conftest import ROOT, write_tree
from .test_cli import templater

AGENT = """
resource "coder_agent" "main" {
  os = "linux"
}
"""


def requiring(constraint: str, source: str = "coder/coder") -> str:
    return f"""
terraform {{
  required_providers {{
    coder = {{
      source  = "{source}"
      version = "{constraint}"
    }}
  }}
}}
"""


def locking(version: str) -> str:
    return f"""# This file is maintained automatically by "terraform init".
provider "registry.terraform.io/coder/coder" {{
  version     = "{version}"
  constraints = ">= 0.5.0"
  hashes = [
    "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
  ]
}}
"""


APP_WITHOUT_SLUG = """
resource "coder_app" "notebook" {
  agent_id = coder_agent.main.id
  url      = "http://localhost:8888"
}
"""

COMMAND_ON_SUBDOMAIN = """
resource "coder_app" "shell" {
  agent_id  = coder_agent.main.id
  slug      = "shell"
  command   = "htop"
  subdomain = true
}
"""


Lint = Callable[..., list[Diagnostic]]


@pytest.fixture
def lint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lint:
    """Write ``files`` into a fresh directory (the working directory) and lint it, for the
    release ``provider_version`` when given."""
    monkeypatch.chdir(tmp_path)

    def run(files: dict[str, str], provider_version: str | None = None) -> list[Diagnostic]:
        write_tree(tmp_path, files)
        options = LintOptions(
            EvalOptions(InputOptions(environment={})), provider_version=provider_version
        )
        return lint_module(Path("."), options).diagnostics

    return run


def rules_of(found: list[Diagnostic]) -> list[str]:
    return sorted(d.rule for d in found)


# ----------------------------------------------------------------------------- constraints


@pytest.mark.parametrize(
    ("constraint", "allowed", "refused"),
    [
        ("~> 0.5", ["0.5.0", "0.6.0", "0.23.0"], ["0.4.15", "1.0.0"]),
        ("~> 0.5.1", ["0.5.1", "0.5.3"], ["0.5.0", "0.6.0"]),
        ("~> 2", ["2.0.1", "2.17.0"], ["1.0.4", "3.0.0"]),
        (">= 2.5, < 2.14, != 2.10.0", ["2.5.0", "2.13.1"], ["2.4.2", "2.10.0", "2.14.0"]),
        ("2.13.1", ["2.13.1"], ["2.13.0", "2.14.0"]),
        ("= 2.2.0-pre0", ["2.2.0-pre0"], ["2.2.0", "2.2.0-pre1"]),
        (">= 2.1", ["2.2.0"], ["2.2.0-pre0", "2.16.0-pre0"]),
        ("", ["0.1.0", "2.17.0"], ["2.2.0-pre0"]),
    ],
)
def test_constraints_as_terraform_reads_them(
    constraint: str, allowed: list[str], refused: list[str]
) -> None:
    parsed = parse_constraint(constraint)
    assert all(allows(parsed, Version.parse(v)) for v in allowed)
    assert not any(allows(parsed, Version.parse(v)) for v in refused)


@pytest.mark.parametrize("constraint", ["v2.0", "=> 2.0", ">= ", "2.0.0.1", "~> two"])
def test_constraints_terraform_refuses(constraint: str) -> None:
    with pytest.raises(ValueError):
        parse_constraint(constraint)


def test_versions_order_as_semver() -> None:
    ordered = ["0.6.18-rc", "0.6.18-rc1", "0.6.18", "2.0.0-rc.2", "2.0.0-rc.10", "2.0.1"]
    assert sorted(map(Version.parse, reversed(ordered))) == list(map(Version.parse, ordered))
    assert Version.parse("v2.14") == Version(2, 14, 0)
    assert newest_allowed([parse_constraint("~> 0.5")], RELEASES) == Version(0, 23, 0)


# ----------------------------------------------------------------------------- the release a template gets


def test_before_the_slug_argument_an_app_needs_none(lint: Lint) -> None:
    # ~> 0.5.0 allows 0.5.x only (0.5.3): no slug argument yet, Coder uses the resource name.
    assert lint({"main.tf": requiring("~> 0.5.0") + AGENT + APP_WITHOUT_SLUG}) == []


def test_tilde_on_a_minor_version_allows_the_later_minors(lint: Lint) -> None:
    # ~> 0.5 is >= 0.5, < 1.0 for Terraform: it installs 0.23.0, which requires slug.
    found = lint({"main.tf": requiring("~> 0.5") + AGENT + APP_WITHOUT_SLUG})
    assert rules_of(found) == ["app-missing-attribute"]


def test_a_slug_before_0_6_0_is_an_unknown_argument(lint: Lint) -> None:
    app = 'resource "coder_app" "web" {\n  agent_id = coder_agent.main.id\n  slug = "web"\n}\n'
    [found] = lint({"main.tf": requiring("0.5.3") + AGENT + app})
    assert found.rule == "app-unknown-attribute"
    assert found.message == (
        'coder_app has no argument "slug" in Coder provider 0.5.3: it came with 0.6.0'
    )


def test_command_conflicts_with_subdomain_only_from_2_14_0(lint: Lint) -> None:
    files = {"main.tf": requiring(">= 2.0") + AGENT + COMMAND_ON_SUBDOMAIN}
    [found] = lint(files)  # no lock file: the newest release >= 2.0
    assert found.rule == "app-conflict" and "from Coder provider 2.14.0" in found.message
    assert (found.span.line, found.span.column) == (19, 3)
    assert lint({"main.tf": requiring(">= 2.0, < 2.14") + AGENT + COMMAND_ON_SUBDOMAIN}) == []
    assert lint({**files, ".terraform.lock.hcl": locking("2.13.1")}) == []
    assert rules_of(lint({**files, ".terraform.lock.hcl": locking("2.14.0")})) == ["app-conflict"]


def test_the_lock_file_wins_over_the_constraint(lint: Lint) -> None:
    app = (
        'resource "coder_app" "web" {\n  agent_id = coder_agent.main.id\n  slug = "web"\n'
        '  open_in = "tab"\n}\n'
    )
    files = {"main.tf": requiring(">= 0.6") + AGENT + app}
    assert lint(files) == []
    [found] = lint({**files, ".terraform.lock.hcl": locking("0.6.10")})
    assert found.message.endswith('"open_in" in Coder provider 0.6.10: it came with 2.1.0')


def test_provider_version_overrides_lock_file_and_constraint(lint: Lint) -> None:
    files = {
        "main.tf": requiring(">= 2.0") + AGENT + COMMAND_ON_SUBDOMAIN,
        ".terraform.lock.hcl": locking("2.14.0"),
    }
    assert rules_of(lint(files)) == ["app-conflict"]
    assert lint(files, provider_version="2.13.0") == []
    assert rules_of(lint({"main.tf": AGENT + APP_WITHOUT_SLUG}, "0.5.2")) == []


def test_a_constraint_no_release_meets_is_an_error_at_it(lint: Lint) -> None:
    [found] = lint({"main.tf": requiring(">= 3.0") + AGENT})
    assert found.rule == "provider-version-constraint" and found.severity is Severity.ERROR
    assert found.span[1:] == (6, 17, 6, 25)
    assert '">= 3.0"' in found.message
    # Meanwhile the template is linted with the newest release's rules.
    assert rules_of(lint({"main.tf": requiring("~> 9.1") + AGENT + COMMAND_ON_SUBDOMAIN})) == [
        "app-conflict",
        "provider-version-constraint",
    ]


def test_a_constraint_terraform_cannot_read_is_an_error(lint: Lint) -> None:
    [found] = lint({"main.tf": requiring("v2.5") + AGENT})
    assert found.rule == "provider-version-constraint"
    assert 'a "v" prefix is not allowed' in found.message


def test_a_constraint_older_than_the_rules_is_info_and_the_oldest_rules_apply(lint: Lint) -> None:
    found = lint({"main.tf": requiring("< 0.5") + AGENT + APP_WITHOUT_SLUG})
    [info] = found
    assert info.rule == "provider-version-too-old" and info.severity is Severity.INFO
    assert info.span[1:3] == (6, 17)
    assert f"linted with the rules of {oldest_described()}" in info.message


def test_a_child_module_narrows_the_choice(lint: Lint) -> None:
    root = (
        requiring(">= 2.0")
        + AGENT
        + 'module "shell" {\n  source = "./shell"\n  agent_id = coder_agent.main.id\n}\n'
    )
    child = (
        requiring("< 2.14")
        + 'variable "agent_id" {\n  type = string\n}\n'
        + COMMAND_ON_SUBDOMAIN.replace("coder_agent.main.id", "var.agent_id")
    )
    assert lint({"main.tf": root, "shell/main.tf": child}) == []
    # The root's lock file decides for every module; a module's own lock file does not count.
    both = {"main.tf": root, "shell/main.tf": child, "shell/.terraform.lock.hcl": locking("2.15.0")}
    assert lint(both) == []


def test_modules_that_allow_no_release_together(lint: Lint) -> None:
    root = requiring("~> 0.12") + AGENT + 'module "m" {\n  source = "./m"\n}\n'
    [found] = lint({"main.tf": root, "m/main.tf": requiring(">= 2.5")})
    assert found.rule == "provider-version-constraint" and found.span.file == "m/main.tf"
    assert '"~> 0.12" (main.tf:6)' in found.message


def test_a_lock_file_the_constraints_do_not_allow(lint: Lint) -> None:
    files = {"main.tf": requiring(">= 2.0") + AGENT, ".terraform.lock.hcl": locking("0.6.10")}
    [found] = lint(files)
    assert found.rule == "provider-version-constraint" and found.span.file == ".terraform.lock.hcl"
    assert found.span[1:3] == (3, 17)


def test_other_providers_and_json_syntax(lint: Lint) -> None:
    document = {
        "terraform": {
            "required_providers": {
                "docker": {"source": "kreuzwerker/docker", "version": ">= 99"},
                "coderx": {"source": "registry.terraform.io/Coder/coder", "version": "0.5.3"},
            }
        }
    }
    files = {"versions.tf.json": json.dumps(document), "main.tf": AGENT + APP_WITHOUT_SLUG}
    assert lint(files) == []
    assert rules_of(lint({**files, "main.tf": AGENT + COMMAND_ON_SUBDOMAIN})) == [
        "app-unknown-attribute"  # slug is not an argument of 0.5.3; subdomain with command is fine
    ]


def test_without_a_slug_argument_the_resource_name_is_the_slug(lint: Lint) -> None:
    app = """
resource "coder_app" "code_server" {
  count    = 2
  agent_id = coder_agent.main.id
  url      = "http://localhost:8080"
}
"""
    found = lint({"main.tf": requiring("0.5.3") + AGENT + app})
    assert rules_of(found) == ["app-slug-duplicate", "app-slug-format"]
    assert {d.span[1:3] for d in found} == {(15, 22)}


@pytest.mark.parametrize(
    ("argument", "value", "good", "bad", "rule"),
    [
        ("share", '"template"', "0.5.2", "0.5.3", "app-share-value"),
        ("open_in", '"window"', "2.1.1", "2.1.2", "app-open-in-value"),
        ("display_name", '"' + "x" * 65 + '"', "2.1.3", "2.2.0", "app-length-limit"),
        ("group", '"' + "g" * 65 + '"', "2.5.2", "2.5.3", "app-length-limit"),
    ],
)
def test_values_a_release_accepts_and_a_later_one_refuses(
    lint: Lint, argument: str, value: str, good: str, bad: str, rule: str
) -> None:
    slug = '  slug = "web"\n' if Version.parse(good) >= Version(0, 6) else ""
    app = f'resource "coder_app" "web" {{\n  agent_id = coder_agent.main.id\n{slug}  {argument} = {value}\n}}\n'
    assert lint({"main.tf": AGENT + app}, good) == []
    [found] = lint({"main.tf": AGENT + app}, bad)
    assert found.rule == rule and found.span.line == (AGENT + app).count("\n") - 1


def test_removed_arguments_are_unknown_to_newer_releases(lint: Lint) -> None:
    app = 'resource "coder_app" "web" {\n  agent_id = coder_agent.main.id\n  slug = "web"\n  name = "Web"\n}\n'
    assert lint({"main.tf": AGENT + app}, "1.0.4") == []
    [found] = lint({"main.tf": AGENT + app})
    assert found.message == (
        f'coder_app has no argument "name" in Coder provider {NEWEST}: it was removed in 2.0.0-rc.1'
    )


def test_a_new_lock_file_misses_the_result_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = tmp_path / "t"
    write_tree(module, {"main.tf": AGENT + COMMAND_ON_SUBDOMAIN})
    monkeypatch.chdir(tmp_path)
    options = LintOptions(EvalOptions(InputOptions(environment={})))
    cache = tmp_path / "cache"
    assert rules_of(lint_directories([Path("t")], options, cache)[0].diagnostics) == [
        "app-conflict"
    ]
    assert ResultCache(cache).lookup(Path("t"), options) is not None
    write_tree(module, {".terraform.lock.hcl": locking("2.13.1")})
    assert ResultCache(cache).lookup(Path("t"), options) is None
    assert lint_directories([Path("t")], options, cache)[0].diagnostics == []
    other = LintOptions(options.evaluation, provider_version="2.14.0")
    assert ResultCache(cache).lookup(Path("t"), other) is None


# ----------------------------------------------------------------------------- the catalogue


def test_every_fact_names_a_release_and_the_oldest_is_0_5_0() -> None:
    parts = [part for rule in RULES for part in version_parts(rule)]
    assert {part.rule for part in parts} <= set(RULES)
    assert all(version in RELEASES for part in parts for version in part.versions)
    assert oldest_described() == Version(0, 5, 0) == min(v for p in parts for v in p.versions)


def test_rules_shows_the_release_each_part_came_with() -> None:
    conflict = explain(RULES["app-conflict"])
    assert "Since: Coder provider 2.14.0 (command with subdomain)" in conflict
    assert "Since: Coder provider 0.6.0 (slug required)" in explain(RULES["app-missing-attribute"])
    unknown = explain(RULES["app-unknown-attribute"])
    assert "Since: Coder provider 0.6.0 (slug, display_name)" in unknown
    assert "Until: Coder provider 2.0.0-rc.1 (name, relative_path)" in unknown
    assert "Since:" not in explain(RULES["app-url-format"])


def test_the_schemas_stay_json_schemas_in_every_release() -> None:
    for name in ("coder_app", "coder_agent"):
        Draft202012Validator.check_schema(load_schema(name))
        for index in range(len(boundaries(name)) + 1):
            Draft202012Validator.check_schema(schema_in(name, index))
        assert {part.rule for part in schema_parts(name)} <= set(RULES)
    newest = load_schema("coder_app")
    assert "name" not in newest["properties"] and "relative_path" in newest["x-removed"]


def test_provider_version_on_the_command_line() -> None:
    shell = ROOT / "tests" / "cases" / "app-conflict" / "command-with-subdomain-and-healthcheck"
    result = templater(
        "lint", "--no-cache", "--provider-version", "2.13.1", "--format", "json", str(shell)
    )
    rules = [d["rule"] for d in json.loads(result.stdout)["diagnostics"]]
    assert rules == ["app-conflict"], result.stderr  # the healthcheck only: subdomain is fine
    bad = templater("lint", "--provider-version", "latest", str(shell))
    assert bad.returncode == 2 and "--provider-version" in bad.stderr
    explained = templater("rules", "app-conflict")
    assert "Since: Coder provider 2.14.0 (command with subdomain)" in explained.stdout
