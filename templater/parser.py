"""Parse Terraform files into :mod:`templater.syntax` trees with python-hcl2's grammar.

python-hcl2's ``loads()`` drops positions and builds round-trip objects we do not need. We run its
Lark grammar (with its post-lexer) and build our syntax tree in the LALR parser's callbacks, so
every node gets its span straight from the tokens and no intermediate tree is built.
"""

from __future__ import annotations

import bisect
import builtins
import os
import re
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from templater.syntax import (
    Attribute,
    BinaryOp,
    Block,
    Body,
    Conditional,
    Expr,
    ForDirective,
    ForExpr,
    FunctionCall,
    GetAttr,
    IfDirective,
    Index,
    Interpolation,
    Literal,
    Node,
    ObjectExpr,
    Parens,
    ParsedFile,
    Span,
    Splat,
    SyntaxProblem,
    Template,
    TemplatePart,
    TupleExpr,
    UnaryOp,
    Variable,
)
from templater.values import normalize_number

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


# ----------------------------------------------------------------------------- the parser


def _cache_file() -> Path | None:
    """Where Lark keeps python-hcl2's compiled grammar: the user cache, not site-packages."""
    import hcl2
    import platformdirs

    version = getattr(hcl2, "__version__", "unknown")
    directory = Path(platformdirs.user_cache_dir("templater"))
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return directory / f"hcl2-{version}-grammar.bin"


@lru_cache(maxsize=1)
def _parser() -> Lark:
    import hcl2.parser
    from hcl2.postlexer import PostLexer

    grammar = Path(hcl2.parser.__file__).with_name("hcl2.lark")
    options: dict[str, Any] = {
        "parser": "lalr",
        "postlex": PostLexer(),
        "transformer": _BUILDER,
        "maybe_placeholders": False,
    }
    cache = _cache_file()
    if cache is None:
        return Lark.open(str(grammar), **options)
    # python-hcl2's own parser() would write its cache into site-packages.
    hcl2.parser.PARSER_FILE = cache
    if cache.exists():
        return Lark.open(str(grammar), cache=str(cache), **options)
    # Build into a private file and rename, so a concurrent run never reads half a cache.
    handle, temporary = tempfile.mkstemp(dir=cache.parent, prefix=cache.name, suffix=".tmp")
    os.close(handle)
    os.unlink(temporary)
    parser = Lark.open(str(grammar), cache=temporary, **options)
    try:
        os.replace(temporary, cache)
    except OSError:
        Path(temporary).unlink(missing_ok=True)
    return parser


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
    flat = _scan_template(text, file, line, column)
    return _template_expr(flat, Span(file, line, column, *_end_of(text, line, column)))


def _run_parser(text: str, file: str, line_shift: int, column_shift: int) -> Any:
    builder = _BUILDER
    saved = builder.file, builder.line_shift, builder.column_shift
    builder.file, builder.line_shift, builder.column_shift = file, line_shift, column_shift
    try:
        return _parser().parse(text + "\n")
    except UnexpectedInput as error:
        raise ParseError(_describe_unexpected(error), _error_span(error, text, builder)) from None
    except RecursionError:
        raise ParseError("expression nested too deeply", builder.span_at(1, 1)) from None
    finally:
        builder.file, builder.line_shift, builder.column_shift = saved


def _end_of(text: str, line: int, column: int) -> tuple[int, int]:
    newlines = text.count("\n")
    if newlines == 0:
        return line, column + len(text)
    return line + newlines, len(text) - text.rfind("\n")


# ----------------------------------------------------------------------------- errors

_TERMINAL_TEXT = {
    "LBRACE": "{",
    "RBRACE": "}",
    "LSQB": "[",
    "RSQB": "]",
    "LPAR": "(",
    "RPAR": ")",
    "EQ": "=",
    "COLON": ":",
    "COMMA": ",",
    "DOT": ".",
    "QMARK": "?",
    "DBLQUOTE": '"',
    "NAME": "a name",
    "NL_OR_COMMENT": "a new line",
    "INT_LITERAL": "a number",
    "FLOAT_LITERAL": "a number",
    "INTERP_START": "${",
    "FOR_OBJECT_ARROW": "=>",
    "ELLIPSIS": "...",
    "$END": "end of file",
    "HEREDOC_TEMPLATE": "a heredoc",
    "HEREDOC_TEMPLATE_TRIM": "a heredoc",
    "STRING_CHARS": "text",
}
_EXPRESSION_STARTS = frozenset({"NAME", "INT_LITERAL", "DBLQUOTE", "LSQB", "LBRACE", "LPAR"})


def _describe_unexpected(error: UnexpectedInput) -> str:
    if isinstance(error, UnexpectedCharacters):
        return f"unexpected character {error.char!r}"
    if isinstance(error, UnexpectedEOF):
        return "unexpected end of file"
    if isinstance(error, UnexpectedToken):
        token = error.token
        if token.type == "$END":
            found = "end of file"
        elif token.type == "NL_OR_COMMENT" or str(token).startswith(("\n", "\r")):
            found = "new line"
        else:
            found = repr(str(token).strip() or token.type)
        if error.expected >= _EXPRESSION_STARTS:
            return f"unexpected {found}; expected an expression"
        expected = sorted({_TERMINAL_TEXT.get(name, name.lower()) for name in error.expected})
        hint = ", ".join(expected[:6]) + (", …" if len(expected) > 6 else "")
        return f"unexpected {found}; expected {hint}" if expected else f"unexpected {found}"
    return str(error).splitlines()[0]


def _error_span(error: UnexpectedInput, text: str, builder: _SyntaxBuilder) -> Span:
    line = getattr(error, "line", -1)
    column = getattr(error, "column", -1)
    token = getattr(error, "token", None)
    if isinstance(token, Token) and token.line is not None and token.type != "$END":
        line, column = token.line, token.column
    if not isinstance(line, int) or line < 1:
        lines = text.split("\n")
        line, column = len(lines), len(lines[-1]) + 1
    return builder.span_at(line, column if isinstance(column, int) and column > 0 else 1)


# ----------------------------------------------------------------------------- heredocs

_HEREDOC_OPENER = re.compile(r"<<-?([A-Za-z][A-Za-z0-9._-]*)\r?\n")


def _tolerate_blanks_after_heredoc_marker(text: str) -> str:
    """Drop blanks after a heredoc's closing marker, which Terraform accepts and the grammar not.

    Only characters at the end of a line go, so no line or column of anything else moves.
    """
    position = 0
    while (opener := _HEREDOC_OPENER.search(text, position)) is not None:
        closer = re.compile(rf"^[ \t]*{re.escape(opener.group(1))}([ \t]*)\r?$", re.M)
        end = closer.search(text, opener.end())
        if end is None:
            break
        if end.group(1):
            text = text[: end.start(1)] + text[end.end(1) :]
        position = end.start(1)
    return text


# ----------------------------------------------------------------------------- templates


class _Directive:
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


class _StripInterpolation(Interpolation):
    """An interpolation with ``~`` markers, as heredoc and template files may write it."""

    __slots__ = ("strip_left", "strip_right")

    def __init__(self, expr: Expr, span: Span, strip_left: bool, strip_right: bool) -> None:
        super().__init__(expr, span)
        self.strip_left = strip_left
        self.strip_right = strip_right


_Flat = str | Interpolation | _Directive


def _template_expr(flat: list[_Flat], span: Span) -> Expr:
    """Assemble flat parts into a :class:`Template` (or a plain literal string)."""
    parts = _assemble(_apply_strip_markers(flat), span)
    if not parts:
        return Literal("", span)
    if len(parts) == 1 and isinstance(parts[0], str):
        return Literal(parts[0], span)
    return Template(parts, span)


def _apply_strip_markers(flat: list[_Flat]) -> list[_Flat]:
    if not any(isinstance(item, (_Directive, _StripInterpolation)) for item in flat):
        return flat
    items = list(flat)
    for index, item in enumerate(items):
        if isinstance(item, (_Directive, _StripInterpolation)):
            if item.strip_left and index > 0 and isinstance(items[index - 1], str):
                items[index - 1] = str(items[index - 1]).rstrip()
            if item.strip_right and index + 1 < len(items) and isinstance(items[index + 1], str):
                items[index + 1] = str(items[index + 1]).lstrip()
    return items


def _assemble(flat: list[_Flat], span: Span) -> list[TemplatePart]:
    # Each open directive keeps the list its parts go to; `else` switches an `if` to a new one.
    root: list[TemplatePart] = []
    stack: list[tuple[_Directive, list[TemplatePart], list[TemplatePart] | None]] = []
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


def _scan_template(text: str, file: str, line: int, column: int) -> list[_Flat]:
    """Split template text into literal text, interpolations and directive markers."""
    locate = _Locator(text, file, line, column)
    flat: list[_Flat] = []
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
            flat.append(_StripInterpolation(expr, span, strip_left, strip_right))
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
) -> _Directive:
    inner = text[start:end]
    simple = _SIMPLE_DIRECTIVE.match(inner)
    if simple:
        return _Directive(simple.group(1), span, strip_left, strip_right)
    if_match = _IF_DIRECTIVE.match(inner)
    if if_match:
        expr_start = start + if_match.end()
        expr = parse_expression(text[expr_start:end], locate.file, *locate.position(expr_start))
        return _Directive("if", span, strip_left, strip_right, expr)
    for_match = _FOR_DIRECTIVE.match(inner)
    if for_match:
        expr_start = start + for_match.end()
        expr = parse_expression(text[expr_start:end], locate.file, *locate.position(expr_start))
        first, second = for_match.group(1), for_match.group(2)
        key_var, value_var = (first, second) if second else (None, first)
        return _Directive("for", span, strip_left, strip_right, expr, key_var, value_var)
    raise ParseError(f"unknown template directive %{{{inner.strip()}}}", span)


def _heredoc(token: Token, builder: _SyntaxBuilder, trim: bool) -> Expr:
    text = str(token)
    opener = _HEREDOC_OPENER.match(text)
    assert opener is not None
    inside = text[opener.end() :].rstrip("\r\n")
    last_newline = inside.rfind("\n")
    body = inside[: last_newline + 1] if last_newline >= 0 else ""
    body = body.replace("\r\n", "\n")
    span = builder.span_of(token)
    flat = _scan_template(body, builder.file, span.line + 1, 1)
    if trim:
        flat = _trim_indentation(flat, body)
    return _template_expr(flat, span)


def _trim_indentation(flat: list[_Flat], body: str) -> list[_Flat]:
    """``<<-``: remove the smallest indentation of the body's non-blank lines from every line."""
    indents = [len(line) - len(line.lstrip(" \t")) for line in body.split("\n") if line.strip()]
    width = min(indents, default=0)
    if width == 0:
        return flat
    line_start = re.compile(rf"^[ \t]{{0,{width}}}")
    after_newline = re.compile(rf"\n[ \t]{{0,{width}}}")
    trimmed: list[_Flat] = []
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


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if len(code) > 1:
            return chr(int(code[1:], 16))
        return _SIMPLE_ESCAPES.get(code, match.group(0))

    return _ESCAPE.sub(replace, text)


# ----------------------------------------------------------------------------- the builder


class _ForIntro:
    __slots__ = ("collection", "names")

    def __init__(self, names: list[str], collection: Expr) -> None:
        self.names = names
        self.collection = collection


class _ForCondition:
    __slots__ = ("expr",)

    def __init__(self, expr: Expr) -> None:
        self.expr = expr


def _exprs(children: list[Any]) -> list[Expr]:
    return [child for child in children if isinstance(child, Expr)]


class _SyntaxBuilder(Transformer[Token, Any]):
    """LALR callbacks: one method per grammar rule of python-hcl2's ``hcl2.lark``."""

    def __init__(self) -> None:
        super().__init__()
        self.file = ""
        # A nested parse (an expression inside a heredoc) shifts its positions into the file.
        self.line_shift = 0
        self.column_shift = 0

    # positions

    def span_at(self, line: int, column: int) -> Span:
        shifted_column = column + self.column_shift if line == 1 else column
        shifted_line = line + self.line_shift
        return Span(self.file, shifted_line, shifted_column, shifted_line, shifted_column + 1)

    def span_of(self, token: Token) -> Span:
        # The lexer sets every position of the tokens it makes.
        first, start = token.line or 1, token.column or 1
        last, end = token.end_line or first, token.end_column or start
        column = start + self.column_shift if first == 1 else start
        end_column = end + self.column_shift if last == 1 else end
        return Span(self.file, first + self.line_shift, column, last + self.line_shift, end_column)

    def _between(self, first: Any, last: Any) -> Span:
        start = first.span if isinstance(first, Node) else self.span_of(first)
        end = last.span if isinstance(last, Node) else self.span_of(last)
        return start.to(end)

    # structure

    def start(self, children: list[Any]) -> Body:
        body: Body = children[0]
        return body

    def body(self, children: list[Any]) -> Body:
        attributes: dict[str, Attribute] = {}
        blocks: list[Block] = []
        duplicates: list[Attribute] = []
        for child in children:
            if isinstance(child, Attribute):
                if child.name in attributes:
                    duplicates.append(child)
                else:
                    attributes[child.name] = child
            elif isinstance(child, Block):
                blocks.append(child)
        items = [child for child in children if isinstance(child, Node)]
        span = items[0].span.to(items[-1].span) if items else Span(self.file, 1, 1, 1, 1)
        return Body(attributes, blocks, duplicates, span)

    def attribute(self, children: list[Any]) -> Attribute:
        name, expr = children[0], children[-1]
        return Attribute(str(name), expr, self.span_of(name), self._between(name, expr))

    def block(self, children: list[Any]) -> Block:
        type_token = children[0]
        labels: list[str] = []
        label_spans: list[Span] = []
        last = type_token
        body: Body | None = None
        for child in children[1:]:
            if isinstance(child, Token):
                if child.type == "LBRACE":
                    opening = child
                elif child.type == "RBRACE":
                    closing = child
                elif child.type not in ("NL_OR_COMMENT",):
                    labels.append(str(child))
                    label_spans.append(self.span_of(child))
                    last = child
            elif isinstance(child, Body):
                body = child
            elif isinstance(child, Literal) and isinstance(child.value, str):
                labels.append(child.value)
                label_spans.append(child.span)
                last = child
            elif isinstance(child, Template):
                raise ParseError("a block label must be a literal string", child.span)
        assert body is not None
        body.span = self._between(opening, closing)
        type_span = self.span_of(type_token)
        header = self._between(type_token, last)
        return Block(str(type_token), labels, body, type_span, header, label_spans)

    def new_line_or_comment(self, children: list[Any]) -> None:
        return None

    # names and literals

    def identifier(self, children: list[Any]) -> Token:
        token: Token = children[0]
        return token

    keyword = identifier
    literal_value = identifier

    def int_lit(self, children: list[Any]) -> Literal:
        token = children[0]
        return Literal(int(token), self.span_of(token))

    def float_lit(self, children: list[Any]) -> Literal:
        token = children[0]
        return Literal(normalize_number(float(token)), self.span_of(token))

    def expr_term(self, children: list[Any]) -> Expr:
        first = children[0]
        if isinstance(first, Token):
            if first.type == "LPAR":
                return Parens(_exprs(children)[0], self._between(first, children[-1]))
            if first.type == "NAME":
                return Variable(str(first), self.span_of(first))
            constant = {"true": True, "false": False, "null": None}[str(first)]
            return Literal(constant, self.span_of(first))
        expr: Expr = first
        return expr

    def template_string(self, children: list[Any]) -> Literal:
        token = children[0]
        return Literal(_unescape(str(token)[2:-2]), self.span_of(token))

    # strings and templates

    def string(self, children: list[Any]) -> Expr:
        flat: list[_Flat] = []
        for part in children[1:-1]:
            if isinstance(part, Token):
                text = str(part)
                if part.type == "STRING_CHARS":
                    flat.append(_unescape(text))
                else:  # an escaped $${ or %%{ sequence stands for itself, less one sign
                    flat.append(text[1:])
            else:
                flat.append(part)
        return _template_expr(flat, self._between(children[0], children[-1]))

    def string_part(self, children: list[Any]) -> Any:
        return children[0]

    def interpolation(self, children: list[Any]) -> Interpolation:
        return Interpolation(children[1], self._between(children[0], children[-1]))

    def _markers(self, children: list[Any]) -> builtins.tuple[bool, bool, Span]:
        strip_left = isinstance(children[1], Token) and children[1].type == "STRIP_MARKER"
        strip_right = isinstance(children[-2], Token) and children[-2].type == "STRIP_MARKER"
        return strip_left, strip_right, self._between(children[0], children[-1])

    def template_if_start(self, children: list[Any]) -> _Directive:
        left, right, span = self._markers(children)
        return _Directive("if", span, left, right, _exprs(children)[0])

    def template_else(self, children: list[Any]) -> _Directive:
        left, right, span = self._markers(children)
        return _Directive("else", span, left, right)

    def template_endif(self, children: list[Any]) -> _Directive:
        left, right, span = self._markers(children)
        return _Directive("endif", span, left, right)

    def template_endfor(self, children: list[Any]) -> _Directive:
        left, right, span = self._markers(children)
        return _Directive("endfor", span, left, right)

    def template_for_start(self, children: list[Any]) -> _Directive:
        left, right, span = self._markers(children)
        names = [
            str(child) for child in children if isinstance(child, Token) and child.type == "NAME"
        ]
        key_var, value_var = (names[0], names[1]) if len(names) == 2 else (None, names[0])
        return _Directive("for", span, left, right, _exprs(children)[0], key_var, value_var)

    def heredoc_template(self, children: list[Any]) -> Expr:
        return _heredoc(children[0], self, trim=False)

    def heredoc_template_trim(self, children: list[Any]) -> Expr:
        return _heredoc(children[0], self, trim=True)

    # operators

    def conditional(self, children: list[Any]) -> Conditional:
        condition, true_expr, false_expr = _exprs(children)
        return Conditional(condition, true_expr, false_expr, condition.span.to(false_expr.span))

    def binary_op(self, children: list[Any]) -> BinaryOp:
        left = children[0]
        operator, right = children[1]
        return BinaryOp(operator, left, right, left.span.to(right.span))

    def binary_term(self, children: list[Any]) -> builtins.tuple[str, Expr]:
        return children[0], _exprs(children)[0]

    def binary_operator(self, children: list[Any]) -> str:
        # The post-lexer folds a preceding new line (or comment) into the operator's token.
        return str(children[0]).split()[-1]

    def unary_op(self, children: list[Any]) -> UnaryOp:
        operator, operand = children
        return UnaryOp(str(operator), operand, self._between(operator, operand))

    # collections

    def tuple(self, children: list[Any]) -> TupleExpr:
        return TupleExpr(_exprs(children), self._between(children[0], children[-1]))

    def object(self, children: list[Any]) -> ObjectExpr:
        items = [child for child in children if isinstance(child, tuple)]
        return ObjectExpr(items, self._between(children[0], children[-1]))

    def object_elem(self, children: list[Any]) -> builtins.tuple[Expr, Expr]:
        return children[0], children[-1]

    def object_elem_key(self, children: list[Any]) -> Expr:
        key = children[0]
        if isinstance(key, Token):
            return Literal(str(key), self.span_of(key))
        if isinstance(key, Variable):
            return Literal(key.name, key.span)
        if isinstance(key, Parens):
            return key.expr
        expr: Expr = key
        return expr

    # calls and traversals

    def function_call(self, children: list[Any]) -> FunctionCall:
        names = [
            str(child) for child in children if isinstance(child, Token) and child.type == "NAME"
        ]
        arguments = next((child for child in children if isinstance(child, tuple)), ([], False))
        return FunctionCall(
            "::".join(names), arguments[0], arguments[1], self._between(children[0], children[-1])
        )

    def arguments(self, children: list[Any]) -> builtins.tuple[list[Expr], bool]:
        expand = any(isinstance(child, Token) and child.type == "ELLIPSIS" for child in children)
        return _exprs(children), expand

    def index_expr_term(self, children: list[Any]) -> Index:
        obj, (key, end) = children
        return Index(obj, key, obj.span.to(end))

    def get_attr_expr_term(self, children: list[Any]) -> GetAttr:
        obj, name = children
        return GetAttr(obj, str(name), obj.span.to(self.span_of(name)))

    def braces_index(self, children: list[Any]) -> builtins.tuple[Expr, Span]:
        return _exprs(children)[0], self.span_of(children[-1])

    def short_index(self, children: list[Any]) -> builtins.tuple[Expr, Span]:
        token = children[-1]
        span = self.span_of(token)
        return Literal(int(token), span), span

    def get_attr(self, children: list[Any]) -> Token:
        token: Token = children[-1]
        return token

    def _splat(self, children: list[Any]) -> Splat:
        obj, (steps, end) = children
        return Splat(obj, steps, obj.span.to(end))

    attr_splat_expr_term = _splat
    full_splat_expr_term = _splat

    def _splat_steps(self, children: list[Any]) -> builtins.tuple[list[str | Expr], Span]:
        steps: list[str | Expr] = []
        end = self.span_of(children[0])
        for child in children[1:]:
            if isinstance(child, Token):
                steps.append(str(child))
                end = self.span_of(child)
            else:
                steps.append(child[0])
                end = child[1]
        return steps, end

    attr_splat = _splat_steps
    full_splat = _splat_steps

    # for expressions

    def for_intro(self, children: list[Any]) -> _ForIntro:
        names = [
            str(child) for child in children if isinstance(child, Token) and child.type == "NAME"
        ]
        return _ForIntro(names, _exprs(children)[0])

    def for_cond(self, children: list[Any]) -> _ForCondition:
        return _ForCondition(_exprs(children)[0])

    def for_tuple_expr(self, children: list[Any]) -> ForExpr:
        return self._for(children, is_object=False)

    def for_object_expr(self, children: list[Any]) -> ForExpr:
        return self._for(children, is_object=True)

    def _for(self, children: list[Any], is_object: bool) -> ForExpr:
        intro = next(child for child in children if isinstance(child, _ForIntro))
        condition = next(
            (child.expr for child in children if isinstance(child, _ForCondition)), None
        )
        exprs = _exprs(children)
        key_var, value_var = (
            (intro.names[0], intro.names[1]) if len(intro.names) == 2 else (None, intro.names[0])
        )
        grouping = any(isinstance(child, Token) and child.type == "ELLIPSIS" for child in children)
        key_expr = exprs[0] if is_object else None
        return ForExpr(
            key_var,
            value_var,
            intro.collection,
            key_expr,
            exprs[-1],
            condition,
            grouping,
            self._between(children[0], children[-1]),
        )


_BUILDER = _SyntaxBuilder()


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
