"""String templates: literal text, ``${…}`` interpolations and ``%{…}`` directives, their
``~`` strip markers, ``<<-`` heredoc indentation and escapes.

Used by the grammar (quoted strings and heredocs) and by ``parse_template`` (``templatefile``
files); the expressions inside a template are read with the parser that is passed in, so this
module does not depend on the grammar.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable

from templater.engine.syntax import (
    Expr,
    ForDirective,
    IfDirective,
    Interpolation,
    Literal,
    ParseError,
    Span,
    Template,
    TemplatePart,
)

ExpressionParser = Callable[[str, str, int, int], Expr]
"""``(text, file, line, column)`` → the expression that text holds."""

HEREDOC_OPENER = re.compile(r"<<-?([A-Za-z][A-Za-z0-9._-]*)\r?\n")


class Directive:
    """A flat ``%{ … }`` marker before the template's structure is assembled."""

    __slots__ = ("expr", "key_var", "kind", "span", "strip_left", "strip_right", "value_var")

    def __init__(
        self,
        kind: str,
        span: Span,
        strip_left: bool = False,
        strip_right: bool = False,
        expr: Expr | None = None,
        key_var: str | None = None,
        value_var: str = "",
    ) -> None:
        self.kind = kind
        self.span = span
        self.strip_left = strip_left
        self.strip_right = strip_right
        self.expr = expr
        self.key_var = key_var
        self.value_var = value_var


class StripInterpolation(Interpolation):
    """An interpolation with ``~`` markers, as heredoc and template files may write it."""

    __slots__ = ("strip_left", "strip_right")

    def __init__(self, expr: Expr, span: Span, strip_left: bool, strip_right: bool) -> None:
        super().__init__(expr, span)
        self.strip_left = strip_left
        self.strip_right = strip_right


Flat = str | Interpolation | Directive


def template_expr(flat: list[Flat], span: Span) -> Expr:
    """Assemble flat parts into a :class:`Template` (or a plain literal string)."""
    parts = _assemble(_apply_strip_markers(flat), span)
    if not parts:
        return Literal("", span)
    if len(parts) == 1 and isinstance(parts[0], str):
        return Literal(parts[0], span)
    return Template(parts, span)


def _apply_strip_markers(flat: list[Flat]) -> list[Flat]:
    if not any(isinstance(item, (Directive, StripInterpolation)) for item in flat):
        return flat
    items = list(flat)
    for index, item in enumerate(items):
        if isinstance(item, (Directive, StripInterpolation)):
            if item.strip_left and index > 0 and isinstance(items[index - 1], str):
                items[index - 1] = str(items[index - 1]).rstrip()
            if item.strip_right and index + 1 < len(items) and isinstance(items[index + 1], str):
                items[index + 1] = str(items[index + 1]).lstrip()
    return items


def _assemble(flat: list[Flat], span: Span) -> list[TemplatePart]:
    # Each open directive keeps the list its parts go to; `else` switches an `if` to a new one.
    root: list[TemplatePart] = []
    stack: list[tuple[Directive, list[TemplatePart], list[TemplatePart] | None]] = []
    current = root
    for item in flat:
        if isinstance(item, str):
            if not item:
                continue
            if current and isinstance(current[-1], str):
                current[-1] += item
            else:
                current.append(item)
        elif isinstance(item, Interpolation):
            current.append(Interpolation(item.expr, item.span))
        elif item.kind in ("if", "for"):
            stack.append((item, current, None))
            current = []
        elif item.kind == "else":
            if not stack or stack[-1][0].kind != "if" or stack[-1][2] is not None:
                raise ParseError("%{else} without a matching %{if}", item.span)
            opener, parent, _ = stack[-1]
            stack[-1] = (opener, parent, current)
            current = []
        else:
            wanted = "if" if item.kind == "endif" else "for"
            if not stack or stack[-1][0].kind != wanted:
                raise ParseError(f"%{{{item.kind}}} without a matching %{{{wanted}}}", item.span)
            opener, parent, then_parts = stack.pop()
            assert opener.expr is not None
            directive: TemplatePart
            whole = opener.span.to(item.span)
            if wanted == "if":
                if then_parts is None:
                    directive = IfDirective(opener.expr, current, [], whole)
                else:
                    directive = IfDirective(opener.expr, then_parts, current, whole)
            else:
                directive = ForDirective(
                    opener.key_var, opener.value_var, opener.expr, current, whole
                )
            parent.append(directive)
            current = parent
    if stack:
        opener = stack[-1][0]
        raise ParseError(
            f"%{{{opener.kind}}} is never closed with %{{end{opener.kind}}}", opener.span
        )
    return root


_TEMPLATE_MARK = re.compile(r"\$\$\{|%%\{|\$\{|%\{")
_IF_DIRECTIVE = re.compile(r"\s*if\s")
_FOR_DIRECTIVE = re.compile(
    r"\s*for\s+([A-Za-z_][\w-]*)\s*(?:,\s*([A-Za-z_][\w-]*)\s*)?\s+in\s", re.S
)
_SIMPLE_DIRECTIVE = re.compile(r"\s*(else|endif|endfor)\s*$")


class Locator:
    """Turns offsets into a text into lines and columns of the file it sits in."""

    def __init__(self, text: str, file: str, line: int, column: int) -> None:
        self.file = file
        self.line = line
        self.column = column
        self.starts = [0] + [match.end() for match in re.finditer("\n", text)]

    def position(self, offset: int) -> tuple[int, int]:
        row = bisect.bisect_right(self.starts, offset) - 1
        column = offset - self.starts[row] + 1
        return self.line + row, column + (self.column - 1 if row == 0 else 0)

    def span(self, start: int, end: int) -> Span:
        return Span(self.file, *self.position(start), *self.position(end))


def _closing_brace(text: str, start: int) -> int:
    """The offset of the ``}`` that closes the template sequence whose body starts at ``start``."""
    modes = ["code"]
    index = start
    length = len(text)
    while index < length:
        char = text[index]
        if modes[-1] == "string":
            if char == "\\":
                index += 1
            elif char == '"':
                modes.pop()
            elif char in "$%" and text.startswith("{", index + 1):
                modes.append("code")
                index += 1
        elif char == '"':
            modes.append("string")
        elif char == "{":
            modes.append("code")
        elif char == "}":
            modes.pop()
            if not modes:
                return index
        index += 1
    return -1


def scan_template(
    text: str, file: str, line: int, column: int, parse_expression: ExpressionParser
) -> list[Flat]:
    """Split template text into literal text, interpolations and directive markers; the
    expressions inside them are read with ``parse_expression`` (the grammar's)."""
    locate = Locator(text, file, line, column)
    flat: list[Flat] = []
    position = 0
    for mark in _TEMPLATE_MARK.finditer(text):
        start = mark.start()
        if start < position:
            continue
        if mark.group() in ("$${", "%%{"):
            flat.append(text[position:start] + mark.group()[1:])
            position = mark.end()
            continue
        flat.append(text[position:start])
        close = _closing_brace(text, mark.end())
        if close < 0:
            raise ParseError(f"unclosed {mark.group()}", locate.span(start, mark.end()))
        inner_start, inner_end = mark.end(), close
        strip_left = text.startswith("~", inner_start)
        strip_right = close > inner_start and text[close - 1] == "~"
        if strip_left:
            inner_start += 1
        if strip_right and inner_end > inner_start:
            inner_end -= 1
        span = locate.span(start, close + 1)
        if mark.group() == "${":
            expr = parse_expression(
                text[inner_start:inner_end], file, *locate.position(inner_start)
            )
            flat.append(StripInterpolation(expr, span, strip_left, strip_right))
        else:
            flat.append(
                _directive(
                    text,
                    inner_start,
                    inner_end,
                    locate,
                    span,
                    strip_left,
                    strip_right,
                    parse_expression,
                )
            )
        position = close + 1
    flat.append(text[position:])
    return flat


def _directive(
    text: str,
    start: int,
    end: int,
    locate: Locator,
    span: Span,
    strip_left: bool,
    strip_right: bool,
    parse_expression: ExpressionParser,
) -> Directive:
    inner = text[start:end]
    simple = _SIMPLE_DIRECTIVE.match(inner)
    if simple:
        return Directive(simple.group(1), span, strip_left, strip_right)
    if_match = _IF_DIRECTIVE.match(inner)
    if if_match:
        expr_start = start + if_match.end()
        expr = parse_expression(text[expr_start:end], locate.file, *locate.position(expr_start))
        return Directive("if", span, strip_left, strip_right, expr)
    for_match = _FOR_DIRECTIVE.match(inner)
    if for_match:
        expr_start = start + for_match.end()
        expr = parse_expression(text[expr_start:end], locate.file, *locate.position(expr_start))
        first, second = for_match.group(1), for_match.group(2)
        key_var, value_var = (first, second) if second else (None, first)
        return Directive("for", span, strip_left, strip_right, expr, key_var, value_var)
    raise ParseError(f"unknown template directive %{{{inner.strip()}}}", span)


def trim_indentation(flat: list[Flat], body: str) -> list[Flat]:
    """``<<-``: remove the smallest indentation of the body's non-blank lines from every line."""
    indents = [len(line) - len(line.lstrip(" \t")) for line in body.split("\n") if line.strip()]
    width = min(indents, default=0)
    if width == 0:
        return flat
    line_start = re.compile(rf"^[ \t]{{0,{width}}}")
    after_newline = re.compile(rf"\n[ \t]{{0,{width}}}")
    trimmed: list[Flat] = []
    at_line_start = True
    for item in flat:
        if isinstance(item, str):
            if at_line_start:
                item = line_start.sub("", item)
            item = after_newline.sub("\n", item)
            at_line_start = item.endswith("\n") if item else at_line_start
        else:
            at_line_start = False
        trimmed.append(item)
    return trimmed


# ----------------------------------------------------------------------------- escapes

_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)", re.S)
_SIMPLE_ESCAPES = {
    "n": "\n",
    "r": "\r",
    "t": "\t",
    '"': '"',
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
}


def unescape(text: str) -> str:
    if "\\" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if len(code) > 1:
            return chr(int(code[1:], 16))
        return _SIMPLE_ESCAPES.get(code, match.group(0))

    return _ESCAPE.sub(replace, text)
