"""Real templates from the corpus, each broken in one deliberate way at test time.

A variant reads a corpus template or module, applies textual replacements, writes the result into
a temporary directory and lints it. The replacement text marks the span the finding must point
at with ⟦ and ⟧; the expected line and column are computed from the mutated text, never written
by hand. Nothing from the corpus is copied into the repository.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from templater.engine.diagnostics import Diagnostic, Severity
from templater.engine.options import EvalOptions, InputOptions, LintOptions
from templater.lint.runner import lint_module

from .conftest import CORPUS, require

REGISTRY = CORPUS / "coder-registry" / "registry"

KUBERNETES = "coder/templates/kubernetes"
DOCKER = "coder/templates/docker"
DOCKER_BUILD = "coder-labs/templates/docker-build"
DOCKER_RSTUDIO = "coder/templates/docker-rstudio"
DOCKER_CLAUDE = "sharkymark/templates/docker-claude"
CODE_SERVER = "coder/modules/code-server"
JUPYTERLAB = "coder/modules/jupyterlab"
PGADMIN = "AJ0070/modules/pgadmin"  # CRLF line endings

OPEN, CLOSE = "⟦", "⟧"
Finding = tuple[str, str, int, int, int, int]  # rule, file, line, column, end line, end column


@dataclass(frozen=True)
class Variant:
    id: str
    template: str  # directory under the corpus registry
    replacements: list[tuple[str, str]]  # (original text, text with the expected span marked)
    rules: list[str]  # the rules expected at the marked span
    message: str = ""  # a substring every expected finding's message contains
    # Extra files for the temporary template: destination -> directory/file in the registry.
    copies: dict[str, str] = field(default_factory=dict)


VARIANTS = [
    Variant(
        "kubernetes-slug",
        KUBERNETES,
        [('  slug         = "code-server"', '  slug         = ⟦"Code_Server"⟧')],
        ["app-slug-format"],
    ),
    Variant(
        "kubernetes-share",
        KUBERNETES,
        [('  share        = "owner"', '  share        = ⟦"everyone"⟧')],
        ["app-share-value"],
    ),
    Variant(
        "kubernetes-second-healthcheck",
        KUBERNETES,
        [
            (
                "    threshold = 10\n  }\n",
                "    threshold = 10\n  }\n\n  ⟦healthcheck⟧ {\n"
                '    url       = "http://localhost:13337/ready"\n'
                "    interval  = 3\n    threshold = 10\n  }\n",
            )
        ],
        ["app-healthcheck-count"],
    ),
    Variant(
        "kubernetes-healthcheck-port",
        KUBERNETES,
        [
            (
                '    url       = "http://localhost:13337/healthz"',
                '    url       = ⟦"http://localhost:13338/healthz"⟧',
            )
        ],
        ["app-healthcheck-url-mismatch"],
    ),
    Variant(
        "kubernetes-subdomain-type",
        KUBERNETES,
        [("  subdomain    = false", '  subdomain    = ⟦"no-thanks"⟧')],
        ["app-attribute-type"],
    ),
    Variant(
        "docker-build-subdomain-typo",
        DOCKER_BUILD,
        [("  subdomain    = false", "  ⟦subdomian⟧    = false")],
        ["app-unknown-attribute"],
        message='did you mean "subdomain"',
    ),
    Variant(
        "docker-rstudio-reserved-port",
        DOCKER_RSTUDIO,
        [('  url          = "http://localhost:8787"', '  url          = ⟦"http://localhost:5"⟧')],
        ["app-url-port-reserved"],
    ),
    Variant(
        "docker-rstudio-agent-name",
        DOCKER_RSTUDIO,
        [
            ('resource "coder_agent" "main" {', 'resource "coder_agent" ⟦"main_agent"⟧ {'),
            ("coder_agent.main.", "coder_agent.main_agent."),
        ],
        ["agent-name-format"],
    ),
    Variant(
        "docker-claude-open-in",
        DOCKER_CLAUDE,
        [('  open_in      = "tab"', '  open_in      = ⟦"new-tab"⟧')],
        ["app-open-in-value"],
    ),
    Variant(
        "code-server-slug-default",
        CODE_SERVER,
        [
            (
                '  description = "The slug for the code-server application."\n'
                '  default     = "code-server"',
                '  description = "The slug for the code-server application."\n'
                '  default     = ⟦"Code Server"⟧',
            )
        ],
        ["app-slug-format"],
        message="used by coder_app.code-server.slug",
    ),
    Variant(
        "jupyterlab-interval",
        JUPYTERLAB,
        [("    interval  = 5\n", "    interval  = ⟦0⟧\n")],
        ["app-healthcheck-range"],
    ),
    Variant(
        "pgadmin-crlf-slug",
        PGADMIN,
        [('  slug         = "pgadmin"', '  slug         = ⟦"pgAdmin"⟧')],
        ["app-slug-format"],
    ),
    Variant(
        "docker-module-input-slug",
        DOCKER,
        [
            (
                'source = "registry.coder.com/coder/code-server/coder"',
                'source = "./modules/code-server"',
            ),
            ('  version = "~> 1.0"\n', ""),
            (
                "  agent_id = coder_agent.main.id\n  order    = 1\n",
                '  agent_id = coder_agent.main.id\n  order    = 1\n  slug     = ⟦"Code_Server"⟧\n',
            ),
        ],
        ["app-slug-format"],
        message="used by module.code-server",
        copies={"modules/code-server/main.tf": f"{CODE_SERVER}/main.tf"},
    ),
    Variant(
        "docker-module-input-share",
        DOCKER,
        [
            (
                'source = "registry.coder.com/coder/code-server/coder"',
                'source = "./modules/code-server"',
            ),
            ('  version = "~> 1.0"\n', ""),
            (
                "  agent_id = coder_agent.main.id\n  order    = 1\n",
                '  agent_id = coder_agent.main.id\n  order    = 1\n  share    = ⟦"everyone"⟧\n',
            ),
        ],
        ["app-share-value", "variable-validation"],
        copies={"modules/code-server/main.tf": f"{CODE_SERVER}/main.tf"},
    ),
]

ORIGINALS = sorted({variant.template for variant in VARIANTS})


def needs_corpus() -> None:
    require(REGISTRY.is_dir(), f"the shared corpus is not at {CORPUS}")


def read_text(path: Path) -> str:
    """The file's text with its line endings as they are (CRLF stays CRLF)."""
    return path.read_bytes().decode("utf-8")


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset; a CR before LF is part of the line end."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def mutate(original: str, replacements: list[tuple[str, str]]) -> tuple[str, tuple[int, ...]]:
    """Apply the replacements; return the text without markers and the marked span."""
    text = original
    for old, new in replacements:
        assert old in text, f"the corpus file changed: {old!r} is not in it any more"
        if OPEN not in new:
            text = text.replace(old, new)
            continue
        assert text.count(old) == 1, f"{old!r} occurs more than once"
        text = text.replace(old, new)
    start = text.index(OPEN)
    end = text.index(CLOSE) - len(OPEN)
    text = text.replace(OPEN, "").replace(CLOSE, "")
    return text, (*position(text, start), *position(text, end))


def lint_here(directory: Path, monkeypatch: pytest.MonkeyPatch) -> list[Diagnostic]:
    monkeypatch.chdir(directory)
    options = LintOptions(EvalOptions(inputs=InputOptions(environment={})))
    return lint_module(Path("."), options).diagnostics


def findings(diagnostics: list[Diagnostic]) -> set[Finding]:
    return {
        (d.rule, d.span.file, d.span.line, d.span.column, d.span.end_line, d.span.end_column)
        for d in diagnostics
        if d.severity != Severity.INFO
    }


@pytest.mark.parametrize("variant", VARIANTS, ids=[variant.id for variant in VARIANTS])
def test_broken_variant_is_reported_at_the_change(
    variant: Variant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs_corpus()
    source = REGISTRY / variant.template / "main.tf"
    text, span = mutate(read_text(source), variant.replacements)
    (tmp_path / "main.tf").write_bytes(text.encode("utf-8"))
    for destination, origin in variant.copies.items():
        target = tmp_path / destination
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((REGISTRY / origin).read_bytes())

    diagnostics = lint_here(tmp_path, monkeypatch)

    assert findings(diagnostics) == {(rule, "main.tf", *span) for rule in variant.rules}
    for diagnostic in diagnostics:
        if diagnostic.rule in variant.rules:
            assert variant.message in diagnostic.message


@pytest.mark.parametrize("template", ORIGINALS)
def test_unmodified_original_has_no_error(template: str, monkeypatch: pytest.MonkeyPatch) -> None:
    needs_corpus()
    diagnostics = lint_here(REGISTRY / template, monkeypatch)
    assert [d for d in diagnostics if d.severity == Severity.ERROR] == []


def test_variants_cover_several_templates() -> None:
    assert len(VARIANTS) >= 8
    assert len(ORIGINALS) >= 3
    assert len({v.id for v in VARIANTS}) == len(VARIANTS)
