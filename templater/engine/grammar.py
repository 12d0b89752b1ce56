"""python-hcl2's grammar run through Lark, building :mod:`templater.engine.syntax` nodes in the LALR
parser's callbacks, so every node gets its span straight from the tokens and no intermediate tree
is built. Imported only when a file must really be parsed: Lark takes a while to load.
"""

from __future__ import annotations

import builtins
import hashlib
import os
import sys
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.lark import _LOAD_ALLOWED_OPTIONS

from templater.engine.memory import paused_gc
from templater.engine.syntax import (
    Attribute,
    BinaryOp,
    Block,
    Body,
    Conditional,
    Expr,
    ForExpr,
    FunctionCall,
    GetAttr,
    Index,
    Interpolation,
    Literal,
    Node,
    ObjectExpr,
    Parens,
    ParseError,
    Span,
    Splat,
    Template,
    TupleExpr,
    UnaryOp,
    Variable,
)
from templater.engine.templates import (
    HEREDOC_OPENER,
    Directive,
    Flat,
    scan_template,
    template_expr,
    trim_indentation,
    unescape,
)
from templater.engine.values import normalize_number

# ----------------------------------------------------------------------------- the parser


def _cache_directory() -> Path | None:
    """The user cache directory, where the compiled grammar is kept (not site-packages)."""
    import platformdirs

    directory = Path(platformdirs.user_cache_dir("templater"))
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return directory


# python-hcl2 8.1.4 names a function `name` or `a::b::c` only; HCL (and so Terraform) takes any
# number of `::` steps, as in `core::upper(…)` and `provider::aws::arn_parse(…)`.
_FUNCTION_NAME = "function_call : identifier (COLONS identifier COLONS identifier)? LPAR"
_HCL_FUNCTION_NAME = "function_call : identifier (COLONS identifier)* LPAR"


def grammar_text() -> str:
    """python-hcl2's ``hcl2.lark``, with the one rule Terraform reads differently changed."""
    import hcl2.parser

    text = Path(hcl2.parser.__file__).with_name("hcl2.lark").read_text(encoding="utf-8")
    if _FUNCTION_NAME not in text:  # another python-hcl2 than the pinned one
        raise RuntimeError("python-hcl2's grammar has changed: review grammar_text()")
    return text.replace(_FUNCTION_NAME, _HCL_FUNCTION_NAME)


@lru_cache(maxsize=1)
def _parser() -> Lark:
    import hcl2
    import hcl2.parser
    from hcl2.postlexer import PostLexer

    grammar = grammar_text()
    options: dict[str, Any] = {
        "parser": "lalr",
        "postlex": PostLexer(),
        "transformer": _BUILDER,
        "maybe_placeholders": False,
    }
    directory = _cache_directory()
    if directory is None:
        return Lark(grammar, **options)
    version = getattr(hcl2, "__version__", "unknown")
    # python-hcl2's own parser() would write its cache into site-packages; it gets a file of its
    # own, since Lark's cache format is not the one below.
    hcl2.parser.PARSER_FILE = directory / f"hcl2-{version}-lark-cache.bin"
    cache = directory / f"hcl2-{version}-grammar.bin"
    key = _cache_key(grammar, options)
    parser = _load_cached(cache, key, options)
    if parser is None:
        parser = Lark(grammar, **options)
        _save_cached(parser, cache, key)
    return parser


# The compiled grammar is saved and loaded here rather than with Lark's `cache=` option: Lark's
# cache key covers the `cache=` file name itself, so a cache built under a private name (renamed
# into place so that a concurrent run never reads half of it) would never match under its real
# name, and the second run would compile the grammar again.


def _cache_key(grammar: str, options: dict[str, Any]) -> bytes:
    """What the compiled grammar depends on: the grammar, the options that shape the tables
    (not the transformer and post-lexer, which are given again on loading), Lark and Python."""
    import lark

    shaping = sorted((name, repr(value)) for name, value in options.items() if name not in _GIVEN)
    digest = hashlib.sha256()
    for part in ("templater-grammar-1", grammar, repr(shaping), lark.__version__):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    digest.update(repr(sys.version_info[:2]).encode())
    return digest.hexdigest().encode("ascii")


# Options Lark leaves out of a saved parser and takes anew when loading it (its own cache does
# the same).
_GIVEN = frozenset(_LOAD_ALLOWED_OPTIONS)


def _load_cached(cache: Path, key: bytes, options: dict[str, Any]) -> Lark | None:
    """The parser saved in ``cache``, or None when there is none or it is not for ``key``."""
    given = {name: value for name, value in options.items() if name in _GIVEN}
    try:
        with open(cache, "rb") as handle:
            if handle.readline().rstrip(b"\n") != key:
                return None
            return Lark.__new__(Lark)._load(handle, **given)
    except FileNotFoundError:
        return None
    except Exception:  # damaged, or written by other code: compiled again and replaced
        return None


def _save_cached(parser: Lark, cache: Path, key: bytes) -> None:
    """Write the parser to a private file and rename it into place, so that a concurrent run
    never reads half of it. A read-only or full cache directory only costs speed."""
    try:
        handle, temporary = tempfile.mkstemp(dir=cache.parent, prefix=cache.name, suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(key + b"\n")
            parser.save(file, _GIVEN)
        os.replace(temporary, cache)
    except OSError:
        Path(temporary).unlink(missing_ok=True)


def prepare() -> None:
    """Load the grammar now (from the cache, or built and cached), before work is forked."""
    _parser()


def run(text: str, file: str, line_shift: int, column_shift: int) -> Any:
    builder = _BUILDER
    saved = builder.file, builder.line_shift, builder.column_shift
    builder.file, builder.line_shift, builder.column_shift = file, line_shift, column_shift
    try:
        with paused_gc():
            return _parser().parse(text + "\n")
    except UnexpectedInput as error:
        raise ParseError(_describe_unexpected(error), _error_span(error, text, builder)) from None
    except RecursionError:
        raise ParseError("expression nested too deeply", builder.span_at(1, 1)) from None
    finally:
        builder.file, builder.line_shift, builder.column_shift = saved


def parse_expression(text: str, file: str, line: int = 1, column: int = 1) -> Expr:
    """Parse one expression that starts at ``line``:``column`` of ``file``."""
    # `x=(` makes the expression an attribute's value; the parentheses let it span lines.
    body = run(f"x=({text}\n)", file, line - 1, column - 4)
    assert isinstance(body, Body)
    value = body.attributes["x"].expr
    assert isinstance(value, Parens)
    return value.expr


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


def _heredoc(token: Token, builder: _SyntaxBuilder, trim: bool) -> Expr:
    text = str(token)
    opener = HEREDOC_OPENER.match(text)
    assert opener is not None
    inside = text[opener.end() :].rstrip("\r\n")
    last_newline = inside.rfind("\n")
    body = inside[: last_newline + 1] if last_newline >= 0 else ""
    body = body.replace("\r\n", "\n")
    span = builder.span_of(token)
    flat = scan_template(body, builder.file, span.line + 1, 1, parse_expression)
    if trim:
        flat = trim_indentation(flat, body)
    return template_expr(flat, span)


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
        return Literal(unescape(str(token)[2:-2]), self.span_of(token))

    # strings and templates

    def string(self, children: list[Any]) -> Expr:
        flat: list[Flat] = []
        for part in children[1:-1]:
            if isinstance(part, Token):
                text = str(part)
                if part.type == "STRING_CHARS":
                    flat.append(unescape(text))
                else:  # an escaped $${ or %%{ sequence stands for itself, less one sign
                    flat.append(text[1:])
            else:
                flat.append(part)
        return template_expr(flat, self._between(children[0], children[-1]))

    def string_part(self, children: list[Any]) -> Any:
        return children[0]

    def interpolation(self, children: list[Any]) -> Interpolation:
        return Interpolation(children[1], self._between(children[0], children[-1]))

    def _markers(self, children: list[Any]) -> builtins.tuple[bool, bool, Span]:
        strip_left = isinstance(children[1], Token) and children[1].type == "STRIP_MARKER"
        strip_right = isinstance(children[-2], Token) and children[-2].type == "STRIP_MARKER"
        return strip_left, strip_right, self._between(children[0], children[-1])

    def template_if_start(self, children: list[Any]) -> Directive:
        left, right, span = self._markers(children)
        return Directive("if", span, left, right, _exprs(children)[0])

    def template_else(self, children: list[Any]) -> Directive:
        left, right, span = self._markers(children)
        return Directive("else", span, left, right)

    def template_endif(self, children: list[Any]) -> Directive:
        left, right, span = self._markers(children)
        return Directive("endif", span, left, right)

    def template_endfor(self, children: list[Any]) -> Directive:
        left, right, span = self._markers(children)
        return Directive("endfor", span, left, right)

    def template_for_start(self, children: list[Any]) -> Directive:
        left, right, span = self._markers(children)
        names = [
            str(child) for child in children if isinstance(child, Token) and child.type == "NAME"
        ]
        key_var, value_var = (names[0], names[1]) if len(names) == 2 else (None, names[0])
        return Directive("for", span, left, right, _exprs(children)[0], key_var, value_var)

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
