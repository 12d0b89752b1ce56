"""Parse Terraform files into :mod:`templater.syntax` trees with python-hcl2's grammar.

python-hcl2's ``loads()`` drops positions and builds round-trip objects we do not need: the
grammar itself runs in :mod:`templater.grammar`. This module is what surrounds it: the public
entry points, string templates and heredoc bodies, escapes, the JSON syntax, ignore comments.
"""

from __future__ import annotations

import bisect
import re
from typing import Any

from templater.syntax import (
    Attribute,
    Block,
    Body,
    Expr,
    ForDirective,
    IfDirective,
    Interpolation,
    Literal,
    ObjectExpr,
    Parens,
    ParsedFile,
    Span,
    SyntaxProblem,
    Template,
    TemplatePart,
    TupleExpr,
)

__all__ = [
    "ParseError",
    "parse_expression",
    "parse_file",
    "parse_template",
    "parse_text",
    "parse_variables_file",
]


class ParseError(Exception):
    """Text that is not valid HCL, with the place the parser could tell."""

    def __init__(self, message: str, span: Span) -> None:
        super().__init__(message)
        self.message = message
        self.span = span


# ----------------------------------------------------------------------------- public API


def parse_file(path: str, text: str) -> ParsedFile:
    """Parse one ``.tf`` or ``.tf.json`` file; a syntax error is returned, never raised."""
    if path.endswith(".json"):
        return _parse_json_file(path, text)
    ignores = _ignore_comments(text)
    try:
        body = parse_text(text, path)
    except ParseError as error:
        return ParsedFile(path, None, SyntaxProblem(error.message, error.span), ignores)
    return ParsedFile(path, body, None, ignores)


_IGNORE_COMMENT = re.compile(
    r"(?:#|//)\s*templater:ignore\s+([A-Za-z0-9_-]+(?:\s*,\s*[A-Za-z0-9_-]+)*)"
)


def _ignore_comments(text: str) -> dict[int, frozenset[str]]:
    """Lines whose findings ``# templater:ignore RULE[,RULE]`` silences: the comment's own line
    when it ends a line of code, the next line when it stands alone."""
    if "templater:ignore" not in text:
        return {}
    ignores: dict[int, frozenset[str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = _IGNORE_COMMENT.search(line)
        if match is None:
            continue
        rules = frozenset(name.strip() for name in match.group(1).split(","))
        target = number + 1 if not line[: match.start()].strip() else number
        ignores[target] = ignores.get(target, frozenset()) | rules
    return ignores


def parse_variables_file(path: str, text: str) -> ParsedFile:
    """A ``.tfvars`` file (HCL attributes) or ``.tfvars.json`` file (one JSON object)."""
    if not path.endswith(".json"):
        return parse_file(path, text)
    try:
        document = _json_document(path, text)
        return ParsedFile(path, _json_body(document, "locals"), None)
    except ParseError as error:
        return ParsedFile(path, None, SyntaxProblem(error.message, error.span))


def parse_text(text: str, file: str) -> Body:
    """Parse HCL native syntax; raises :class:`ParseError` on a syntax error."""
    if text.startswith("\ufeff"):
        text = " " + text[1:]  # a byte-order mark, kept as one column so nothing moves
    if "<<" in text:
        text = _tolerate_blanks_after_heredoc_marker(text)
    body = _run_parser(text, file, 0, 0)
    assert isinstance(body, Body)
    return body


def parse_expression(text: str, file: str, line: int = 1, column: int = 1) -> Expr:
    """Parse one expression that starts at ``line``:``column`` of ``file``."""
    # `x=(` makes the expression an attribute's value; the parentheses let it span lines.
    body = _run_parser(f"x=({text}\n)", file, line - 1, column - 4)
    assert isinstance(body, Body)
    value = body.attributes["x"].expr
    assert isinstance(value, Parens)
    return value.expr


def parse_template(text: str, file: str, line: int = 1, column: int = 1) -> Expr:
    """Parse a whole string template (a ``templatefile`` file, a heredoc body)."""
    flat = scan_template(text, file, line, column)
    return template_expr(flat, Span(file, line, column, *_end_of(text, line, column)))


def _run_parser(text: str, file: str, line_shift: int, column_shift: int) -> Any:
    # The grammar pulls in Lark; a run whose files all come from the parse cache never needs it.
    from templater import grammar

    return grammar.run(text, file, line_shift, column_shift)


def _end_of(text: str, line: int, column: int) -> tuple[int, int]:
    newlines = text.count("\n")
    if newlines == 0:
        return line, column + len(text)
    return line + newlines, len(text) - text.rfind("\n")


# ----------------------------------------------------------------------------- heredocs

HEREDOC_OPENER = re.compile(r"<<-?([A-Za-z][A-Za-z0-9._-]*)\r?\n")


def _tolerate_blanks_after_heredoc_marker(text: str) -> str:
    """Drop blanks after a heredoc's closing marker, which Terraform accepts and the grammar not.

    Only characters at the end of a line go, so no line or column of anything else moves.
    """
    position = 0
    while (opener := HEREDOC_OPENER.search(text, position)) is not None:
        closer = re.compile(rf"^[ \t]*{re.escape(opener.group(1))}([ \t]*)\r?$", re.M)
        end = closer.search(text, opener.end())
        if end is None:
            break
        if end.group(1):
            text = text[: end.start(1)] + text[end.end(1) :]
        position = end.start(1)
    return text


# ----------------------------------------------------------------------------- templates


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


class _Locator:
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


def scan_template(text: str, file: str, line: int, column: int) -> list[Flat]:
    """Split template text into literal text, interpolations and directive markers."""
    locate = _Locator(text, file, line, column)
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
                _directive(text, inner_start, inner_end, locate, span, strip_left, strip_right)
            )
        position = close + 1
    flat.append(text[position:])
    return flat


def _directive(
    text: str,
    start: int,
    end: int,
    locate: _Locator,
    span: Span,
    strip_left: bool,
    strip_right: bool,
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


# ----------------------------------------------------------------------------- JSON syntax

# Nested block types that Terraform's JSON syntax cannot tell from attributes without a schema.
_JSON_BLOCK_TYPES = frozenset(
    {
        "healthcheck",
        "validation",
        "lifecycle",
        "provisioner",
        "connection",
        "dynamic",
        "content",
        "metadata",
        "display_apps",
        "resources_monitoring",
        "option",
        "precondition",
        "postcondition",
        "required_providers",
        "backend",
        "memory",
        "volume",
    }
)
# Top-level keys and how many labels their blocks carry.
_JSON_TOP_LEVEL = {
    "resource": 2,
    "data": 2,
    "variable": 1,
    "output": 1,
    "module": 1,
    "provider": 1,
    "locals": 0,
    "terraform": 0,
    "check": 1,
    "moved": 0,
    "import": 0,
}


def _parse_json_file(path: str, text: str) -> ParsedFile:
    try:
        return ParsedFile(path, _json_top_level(_json_document(path, text)), None)
    except ParseError as error:
        return ParsedFile(path, None, SyntaxProblem(error.message, error.span))


def _json_document(path: str, text: str) -> ObjectExpr:
    """The one object a JSON file holds, parsed by the HCL grammar (JSON is nearly HCL)."""
    body = _run_parser(f"x={text}", path, 0, -2)
    value = body.attributes.get("x") if isinstance(body, Body) else None
    if value is None or not isinstance(value.expr, ObjectExpr) or len(body.attributes) != 1:
        span = value.expr.span if value else Span(path, 1, 1, 1, 2)
        raise ParseError("a JSON file here must hold one JSON object", span)
    return value.expr


def _json_key(key: Expr) -> str:
    if isinstance(key, Literal) and isinstance(key.value, str):
        return key.value
    raise ParseError("a JSON object key must be a literal string", key.span)


def _json_objects(value: Expr) -> list[ObjectExpr]:
    """A block's JSON value: one object, or an array of objects for repeated blocks."""
    if isinstance(value, ObjectExpr):
        return [value]
    if isinstance(value, TupleExpr) and all(isinstance(item, ObjectExpr) for item in value.items):
        return [item for item in value.items if isinstance(item, ObjectExpr)]
    raise ParseError("a JSON block must be an object or an array of objects", value.span)


def _json_top_level(document: ObjectExpr) -> Body:
    blocks: list[Block] = []
    attributes: dict[str, Attribute] = {}
    for key_expr, value in document.items:
        key = _json_key(key_expr)
        if key == "//":
            continue
        labels = _JSON_TOP_LEVEL.get(key)
        if labels is None:
            raise ParseError(f'unsupported top-level JSON key "{key}"', key_expr.span)
        if key == "locals":
            for obj in _json_objects(value):
                attributes.update(_json_body(obj, key).attributes)
            continue
        blocks.extend(_json_labelled(key, key_expr.span, value, [], [], labels))
    return Body(attributes, blocks, [], document.span)


def _json_labelled(
    type: str,
    type_span: Span,
    value: Expr,
    labels: list[str],
    label_spans: list[Span],
    remaining: int,
) -> list[Block]:
    """The blocks of a JSON object nested one level per label: {"type": {"label": {body}}}."""
    if remaining == 0:
        header = type_span.to(label_spans[-1]) if label_spans else type_span
        return [
            Block(type, labels, _json_body(obj, type), type_span, header, label_spans)
            for obj in _json_objects(value)
        ]
    if not isinstance(value, ObjectExpr):
        raise ParseError(f"{type} must be an object keyed by its label", value.span)
    blocks: list[Block] = []
    for key_expr, inner in value.items:
        blocks.extend(
            _json_labelled(
                type,
                type_span,
                inner,
                [*labels, _json_key(key_expr)],
                [*label_spans, key_expr.span],
                remaining - 1,
            )
        )
    return blocks


def _json_body(obj: ObjectExpr, block_type: str) -> Body:
    attributes: dict[str, Attribute] = {}
    blocks: list[Block] = []
    duplicates: list[Attribute] = []
    for key_expr, value in obj.items:
        name = _json_key(key_expr)
        if name == "//":
            continue
        if name in _JSON_BLOCK_TYPES and block_type != "locals":
            if name == "dynamic":
                blocks.extend(_json_labelled(name, key_expr.span, value, [], [], 1))
            else:
                blocks.extend(_json_labelled(name, key_expr.span, value, [], [], 0))
            continue
        if block_type == "variable" and name == "type" and isinstance(value, Literal):
            # JSON writes a type constraint as a string holding the type expression.
            value = parse_expression(
                str(value.value), value.span.file, value.span.line, value.span.column + 1
            )
        attribute = Attribute(name, value, key_expr.span, key_expr.span.to(value.span))
        if name in attributes:
            duplicates.append(attribute)
        else:
            attributes[name] = attribute
    return Body(attributes, blocks, duplicates, obj.span)
