"""The text format, for people: each diagnostic with a code frame that underlines its span, then
a one-line summary. Coloured with rich, and only when asked to (the CLI asks on a terminal)."""

from __future__ import annotations

import io
import unicodedata

from templater.engine.diagnostics import Diagnostic, Severity
from templater.engine.syntax import Span
from templater.lint.report import LintReport, Summary
from templater.lint.reporters._source import SourceLines

TAB_SIZE = 4

_SEVERITY_STYLES = {
    Severity.ERROR: "bold red",
    Severity.WARNING: "bold yellow",
    Severity.INFO: "bold cyan",
}
_GUTTER_STYLE = "bold blue"


Piece = tuple[str, str]
"""Text and the rich style it is shown in ("" for none)."""


def render(report: LintReport, *, color: bool) -> str:
    sources = SourceLines()
    lines: list[list[Piece]] = []
    for diagnostic in report.diagnostics:
        lines.append(_header(diagnostic))
        lines.extend(_frame(diagnostic, sources))
        lines.append([])
    lines.append([(summary_line(report.summary), "bold")])
    if not color:
        return "".join("".join(text for text, _ in line) + "\n" for line in lines)
    return _colored(lines)


def _colored(lines: list[list[Piece]]) -> str:
    # rich is imported only for colour: it takes longer to import than a run without colour
    # spends in all.
    from rich.console import Console
    from rich.text import Text

    buffer = io.StringIO()
    # Everything explicit, so that the output depends on the lines alone and not on the
    # environment (rich reads NO_COLOR, FORCE_COLOR, TERM, COLUMNS); soft_wrap keeps long source
    # lines whole, which keeps the carets under them.
    console = Console(
        file=buffer,
        force_terminal=True,
        color_system="standard",
        legacy_windows=False,
        soft_wrap=True,
        highlight=False,
        markup=False,
        emoji=False,
    )
    # One print of the whole report: rich's cost is per print, not per line.
    console.print(Text("\n").join(Text.assemble(*line) for line in lines))
    return buffer.getvalue()


def summary_line(summary: Summary) -> str:
    """``2 errors, 1 warning in 3 modules (5 files, 4 apps)``, or ``No problems in …``."""
    counts = ((summary.errors, "error"), (summary.warnings, "warning"), (summary.infos, "info"))
    found = ", ".join(_count(number, word) for number, word in counts if number)
    files, apps = _count(summary.files, "file"), _count(summary.apps, "app")
    return f"{found or 'No problems'} in {_count(summary.modules, 'module')} ({files}, {apps})"


def _count(number: int, word: str) -> str:
    return f"{number} {word}" if number == 1 else f"{number} {word}s"


def _header(diagnostic: Diagnostic) -> list[Piece]:
    span, style = diagnostic.span, _SEVERITY_STYLES[diagnostic.severity]
    return [
        (_visible(f"{span.file}:{span.line}:{span.column}:"), "bold"),
        (" ", ""),
        (f"{diagnostic.severity.value}[{diagnostic.rule}]", style),
        (" ", ""),
        (_visible(diagnostic.message), ""),
    ]


def _frame(diagnostic: Diagnostic, sources: SourceLines) -> list[list[Piece]]:
    """The span's first line with carets under the span: to the span's end, or the line's end
    when the span goes on. No frame when the file cannot be read."""
    span = diagnostic.span
    source = sources.line(span.file, span.line)
    if source is None:
        return []
    shown, before, under = _underline(source, span)
    number = str(span.line)
    gutter = " " * len(number) + " |"
    return [
        [(gutter, _GUTTER_STYLE)],
        [(f"{number} |", _GUTTER_STYLE), (f" {shown}" if shown else "", "")],
        [
            (gutter, _GUTTER_STYLE),
            (" " * (before + 1), ""),
            ("^" * under, _SEVERITY_STYLES[diagnostic.severity]),
        ],
    ]


def _underline(source: str, span: Span) -> tuple[str, int, int]:
    """The line as shown, and how many terminal cells come before the span and lie under it.

    Columns count characters, cells what a terminal shows: a tab is expanded to the next tab
    stop and a wide character takes two cells, so the carets are counted in cells.
    """
    # A span may start just past the end of the line (a value missing at its end).
    first = min(max(span.column - 1, 0), len(source))
    last = span.end_column - 1 if span.end_line == span.line else len(source)
    last = min(max(last, first), len(source))
    if source.isascii() and source.isprintable():  # most lines: a cell per character
        return source, first, max(last - first, 1)
    from rich.cells import cell_len

    pieces: list[str] = []
    cells = [0]  # cells[i]: the cells taken by the characters before character i
    for char in source:
        piece = " " * (TAB_SIZE - cells[-1] % TAB_SIZE) if char == "\t" else _visible(char)
        pieces.append(piece)
        cells.append(cells[-1] + cell_len(piece))
    return "".join(pieces), cells[first], max(cells[last] - cells[first], 1)


def _visible(text: str) -> str:
    """``text`` with control and format characters replaced by U+FFFD: a template must not be
    able to send escape sequences to the terminal, nor hide or reorder (bidi) what is shown."""
    if text.isprintable():  # str.isprintable refuses every Cc and Cf character
        return text
    return "".join(
        "\ufffd" if unicodedata.category(char) in ("Cc", "Cf") else char for char in text
    )
