"""python-hcl2's grammar run through Lark, building :mod:`templater.engine.syntax` nodes in the LALR
parser's callbacks, so every node gets its span straight from the tokens and no intermediate tree
is built. Imported only when a file must really be parsed: Lark takes a while to load.
"""

from __future__ import annotations

import builtins
import hashlib
import os
import re
import sys
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

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
    hcl_range,
    syntax_message,
)
from templater.engine.templates import (
    HEREDOC_OPENER,
    Directive,
    Flat,
    Locator,
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
        raise ParseError("an expression nested too deeply", builder.span_at(1, 1)) from None
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
    """What the grammar did not expect, in words: never its terminal names. Shown only where
    HCL's own reading finds nothing wrong (and for JSON files)."""
    if isinstance(error, UnexpectedCharacters):
        return f"unexpected character {error.char!r}"
    if isinstance(error, UnexpectedEOF):
        return "unexpected end of file"
    if isinstance(error, UnexpectedToken):
        token = error.token
        text = str(token).strip()
        if token.type == "$END":
            found = "end of file"
        elif token.type == "NL_OR_COMMENT" or str(token).startswith(("\n", "\r")):
            found = "new line"
        else:
            first_line = text.splitlines()[0] if text else ""
            found = repr(first_line[:20] + ("…" if len(first_line) > 20 else ""))
        if error.expected >= _EXPRESSION_STARTS:
            return f"unexpected {found}; expected an expression"
        expected = sorted(
            {_TERMINAL_TEXT[name] for name in error.expected if name in _TERMINAL_TEXT}
        )
        hint = ", ".join(expected[:6]) + (", …" if len(expected) > 6 else "")
        return f"unexpected {found}; expected {hint}" if expected else f"unexpected {found}"
    return "unexpected input"


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


# ----------------------------------------------------------------------------- Terraform's words

# When the grammar rejects a file, the file is read again the way HCL's own parser reads it
# (hashicorp/hcl's hclsyntax: its scanner, then its recursive descent), only to find the first
# diagnostic Terraform would print, with Terraform's summary and detail at Terraform's place. An
# LALR parser only knows which token it did not expect, which is often not where the mistake is
# (a string left open is noticed lines later) and is said in the grammar's terminal names. This
# runs on the error path alone; a file that parses never pays for it. Columns count characters,
# as everywhere in templater (HCL counts grapheme clusters).


class _Tok(NamedTuple):
    kind: str
    text: str
    start: int
    end: int


class _Found(Exception):
    """The first syntax error, with Terraform's summary and detail; raised to stop at once."""

    def __init__(self, summary: str, detail: str, start: int, end: int) -> None:
        super().__init__(summary)
        self.summary = summary
        self.detail = detail
        self.start = start
        self.end = end


# Token kinds besides the punctuation, which is its own kind.
_IDENT, _NUMBER, _COMMENT, _NEWLINE, _EOF = "ident", "number", "comment", "newline", "eof"
_OQUOTE, _CQUOTE, _OHEREDOC, _CHEREDOC = "oquote", "cquote", "oheredoc", "cheredoc"
_INTERP, _CONTROL, _SEQ_END = "interp", "control", "seq_end"
_QUOTED_LIT, _STRING_LIT, _QUOTED_NEWLINE = "quoted_lit", "string_lit", "quoted_newline"
_INVALID, _BAD_UTF8 = "invalid", "bad_utf8"

_OPERATORS2 = frozenset({"==", "!=", ">=", "<=", "&&", "||", "::", "=>"})
_SELF_TOKENS = frozenset("[](),.*/%+-=<>!?:&|~^;`'")
_NUMBER_LIT = re.compile(r"[0-9](?:[0-9.]|[eE][+-]?[0-9])*")
_HEREDOC_START = re.compile(r"<<(-?)([^\W\d][\w-]*)\r?\n")
_QUOTED_RUN = re.compile(r'(?:[^$%"\\\r\n]|\\[^\r\n])+')
_TEMPLATE_RUN = re.compile(r"[^$%\r\n]+")
_BLANKS = re.compile(r"[ \t]+")


def _identifier_at(text: str, index: int) -> int:
    """The end of the identifier (HCL's: ID_Start or _, then ID_Continue or -) at ``index``."""
    end = index + 1
    while end < len(text) and (text[end] == "-" or ("_" + text[end]).isidentifier()):
        end += 1
    return end


class _Heredoc:
    """A heredoc being scanned: its closing marker, and whether a line has just begun (only a
    line that is nothing but the marker closes it)."""

    __slots__ = ("line_start", "marker")

    def __init__(self, marker: str) -> None:
        self.marker = marker
        self.line_start = True


class _Scanner:
    """HCL's scanner: tokens for the main syntax, quoted templates and heredocs, with the
    modes nested as ``${``, ``%{``, ``"`` and ``<<EOT`` open and close them."""

    def __init__(self, text: str, template: bool) -> None:
        self.text = text
        self.tokens: list[_Tok] = []
        self.modes = ["template" if template else "main"]
        self.braces = 0
        self.return_braces: list[int] = []
        self.heredocs: list[_Heredoc] = []

    def scan(self) -> list[_Tok]:
        text, index = self.text, 0
        while index < len(text):
            mode = self.modes[-1]
            if mode == "main":
                index = self._main(index)
            elif mode == "string":
                index = self._string(index)
            else:
                index = self._template(index, heredoc=mode == "heredoc")
        self.tokens.append(_Tok(_EOF, "", len(text), len(text)))
        return self.tokens

    def _emit(self, kind: str, start: int, end: int) -> int:
        self.tokens.append(_Tok(kind, self.text[start:end], start, end))
        return end

    def _open_sequence(self, index: int) -> int | None:
        """A ``${`` or ``%{`` (with its ``~``) at ``index`` opens the main syntax inside."""
        text = self.text
        if text[index] not in "$%" or not text.startswith("{", index + 1):
            return None
        end = index + 3 if text.startswith("~", index + 2) else index + 2
        self._emit(_INTERP if text[index] == "$" else _CONTROL, index, end)
        self.braces += 1
        self.return_braces.append(self.braces)
        if self.heredocs:
            self.heredocs[-1].line_start = False
        self.modes.append("main")
        return end

    def _escaped_sequence(self, index: int) -> int:
        """The end of a ``$``/``%`` that opens no sequence: alone, or doubled before a ``{``."""
        text = self.text
        sign = text[index]
        if text.startswith(sign + "{", index + 1):
            return index + 4 if text.startswith("~", index + 3) else index + 3
        return index + 1

    def _main(self, index: int) -> int:
        text = self.text
        char = text[index]
        if char in " \t":
            blanks = _BLANKS.match(text, index)
            assert blanks is not None
            return blanks.end()
        if char.isdigit() and char.isascii():
            number = _NUMBER_LIT.match(text, index)
            assert number is not None
            return self._emit(_NUMBER, index, index + len(number.group().rstrip(".")))
        if char == "_" or char.isidentifier():
            return self._emit(_IDENT, index, _identifier_at(text, index))
        if char == "#" or text.startswith("//", index):
            newline = text.find("\n", index)
            return self._emit(_COMMENT, index, len(text) if newline < 0 else newline + 1)
        if text.startswith("/*", index):
            close = text.find("*/", index + 2)
            if close >= 0:
                return self._emit(_COMMENT, index, close + 2)
            return self._emit("/", index, index + 1)  # never closed: a slash, then what follows
        if char == "\n":
            return self._emit(_NEWLINE, index, index + 1)
        if text.startswith("\r\n", index):
            return self._emit(_NEWLINE, index, index + 2)
        if text.startswith("<<", index):
            heredoc = _HEREDOC_START.match(text, index)
            if heredoc is not None:
                self.heredocs.append(_Heredoc(heredoc.group(2)))
                self.modes.append("heredoc")
                return self._emit(_OHEREDOC, index, heredoc.end())
        if text.startswith("...", index):
            return self._emit("...", index, index + 3)
        if text.startswith("~}", index) or char == "}":
            end = index + (2 if char == "~" else 1)
            if self.return_braces and self.return_braces[-1] == self.braces:
                self.return_braces.pop()
                self.braces -= 1
                self.modes.pop()
                return self._emit(_SEQ_END, index, end)
            self.braces -= 1
            return self._emit(_SEQ_END if char == "~" else "}", index, end)
        if text[index : index + 2] in _OPERATORS2:
            return self._emit(text[index : index + 2], index, index + 2)
        if char == "{":
            self.braces += 1
            return self._emit("{", index, index + 1)
        if char == '"':
            self.modes.append("string")
            return self._emit(_OQUOTE, index, index + 1)
        if char in _SELF_TOKENS:
            return self._emit(char, index, index + 1)
        # What the decoder could not read as UTF-8 comes here as U+FFFD.
        return self._emit(_BAD_UTF8 if char == "\ufffd" else _INVALID, index, index + 1)

    def _string(self, index: int) -> int:
        text = self.text
        opened = self._open_sequence(index)
        if opened is not None:
            return opened
        char = text[index]
        if char == '"':
            self.modes.pop()
            return self._emit(_CQUOTE, index, index + 1)
        if char in "\r\n":
            end = index
            while end < len(text) and text[end] in "\r\n":
                end += 1
            return self._emit(_QUOTED_NEWLINE, index, end)
        if char in "$%":
            return self._emit(_QUOTED_LIT, index, self._escaped_sequence(index))
        run = _QUOTED_RUN.match(text, index)
        if run is not None:
            return self._emit(_QUOTED_LIT, index, run.end())
        return self._emit(_INVALID, index, index + 1)  # a backslash that ends the line

    def _template(self, index: int, heredoc: bool) -> int:
        """A heredoc's lines, or a template file's (``heredoc`` false: no closing marker)."""
        text = self.text
        opened = self._open_sequence(index)
        if opened is not None:
            return opened
        if text[index] in "$%":
            end = self._escaped_sequence(index)
        else:
            run = _TEMPLATE_RUN.match(text, index)
            end = run.end() if run is not None else index
        newline = 2 if text.startswith("\r\n", end) else 1 if text.startswith("\n", end) else 0
        if text.startswith("\r", end) and not newline:
            end += 1  # a lone CR is text
            return self._emit(_STRING_LIT, index, end)
        if not heredoc:
            return self._emit(_STRING_LIT, index, end + newline)
        heredoc_state = self.heredocs[-1]
        if not newline:
            heredoc_state.line_start = False
            return self._emit(_STRING_LIT, index, end)
        if heredoc_state.line_start and text[index:end].strip() == heredoc_state.marker:
            self.heredocs.pop()
            self.modes.pop()
            self._emit(_CHEREDOC, index, end)
            # The new line after the marker is a token of its own: it ends the argument.
            return self._emit(_NEWLINE, end, end + newline)
        heredoc_state.line_start = True
        return self._emit(_STRING_LIT, index, end + newline)


_BITWISE_HINTS = {
    "&": ' Did you mean boolean AND ("&&")?',
    "|": ' Did you mean boolean OR ("||")?',
    "~": ' Did you mean boolean NOT ("!")?',
    "^": "",
}
_INVALID_TOKEN_DETAILS = {
    "`": (
        "Invalid character",
        'The "`" character is not valid. To create a multi-line string, use the "heredoc" '
        'syntax, like "<<EOT".',
    ),
    "'": (
        "Invalid character",
        'Single quotes are not valid. Use double quotes (") to enclose strings.',
    ),
    ";": (
        "Invalid character",
        'The ";" character is not valid. Use newlines to separate arguments and blocks, and '
        "commas to separate items in collection values.",
    ),
    _BAD_UTF8: (
        "Invalid character encoding",
        "All input files must be UTF-8 encoded. Ensure that UTF-8 encoding is selected in your "
        "editor.",
    ),
    _QUOTED_NEWLINE: (
        "Invalid multi-line string",
        "Quoted strings may not be split over multiple lines. To produce a multi-line string, "
        'either use the \\n escape to represent a newline character or use the "heredoc" '
        "multi-line template syntax.",
    ),
}


def _check_tokens(tokens: list[_Tok]) -> None:
    """HCL's checks of the tokens themselves, which Terraform reports before any other."""
    for token in tokens:
        kind = token.kind
        if kind in _BITWISE_HINTS:
            detail = f"Bitwise operators are not supported.{_BITWISE_HINTS[kind]}"
            raise _Found("Unsupported operator", detail, token.start, token.end)
        if kind in _INVALID_TOKEN_DETAILS:
            summary, detail = _INVALID_TOKEN_DETAILS[kind]
            raise _Found(summary, detail, token.start, token.end)
        if kind == _INVALID:
            if token.text in ("\u201c", "\u201d"):
                detail = (
                    '"Curly quotes" are not valid here. These can sometimes be inadvertently '
                    "introduced when sharing code via documents or discussion forums. It might "
                    'help to replace the character with a "straight quote".'
                )
            else:
                detail = "This character is not used within the language."
            raise _Found("Invalid character", detail, token.start, token.end)


_BINARY_LEVELS = (
    frozenset({"||"}),
    frozenset({"&&"}),
    frozenset({"==", "!="}),
    frozenset({">", ">=", "<", "<="}),
    frozenset({"+", "-"}),
    frozenset({"*", "/", "%"}),
)
_UNBALANCED = "The control directives within this template are unbalanced."
_NO_CLOSING_MARKER = "No closing marker was found for the string."
_AN_ARGUMENT_OR_BLOCK = "An argument or block definition is required here."
_USE_EQUALS = ' To set an argument, use the equals sign "=" to introduce the argument value.'
_ESCAPE = re.compile(r"\\(?:u[0-9a-fA-F]{0,4}|U[0-9a-fA-F]{0,8}|.?)", re.S)
_DIRECTIVE_WORDS = ("if", "for", "else", "endif", "endfor")

Range = tuple[int, int]
"""Offsets into the text: start and end."""


def _bounds(where: _Tok | Range) -> Range:
    return (where.start, where.end) if isinstance(where, _Tok) else where


class _Reader:
    """HCL's parser, reduced to finding its first diagnostic: it builds nothing, and stops at
    the first mistake, before any of HCL's recovery could come into play."""

    def __init__(self, tokens: list[_Tok], show_range: Callable[[int, int], str]) -> None:
        self.tokens = tokens
        self.index = 0
        self.newlines = [True]  # whether new lines are tokens, innermost context last
        self.show_range = show_range

    # the peeker: comments skipped, new lines only where they count

    def _next(self) -> builtins.tuple[_Tok, int]:
        with_newlines = self.newlines[-1]
        for index in range(self.index, len(self.tokens)):
            token = self.tokens[index]
            if token.kind == _COMMENT:
                if with_newlines and token.text.endswith("\n"):
                    return _Tok(_NEWLINE, "\n", token.start, token.end), index + 1
                continue
            if token.kind == _NEWLINE and not with_newlines:
                continue
            return token, index + 1
        return self.tokens[-1], len(self.tokens)

    def peek(self) -> _Tok:
        return self._next()[0]

    def read(self) -> _Tok:
        token, self.index = self._next()
        return token

    def previous(self) -> _Tok:
        return self.tokens[self.index - 1] if self.index else self.peek()

    @staticmethod
    def fail(
        summary: str, detail: str, first: _Tok | Range, last: _Tok | Range | None = None
    ) -> NoReturn:
        """Stop at this mistake: from ``first`` (a token or range) to ``last``, if given."""
        raise _Found(
            summary, detail, _bounds(first)[0], _bounds(first if last is None else last)[1]
        )

    @staticmethod
    def keyword(token: _Tok, word: str) -> bool:
        return token.kind == _IDENT and token.text == word

    # bodies

    def body(self, end: str) -> None:
        opening = self.previous()
        names: dict[str, _Tok] = {}
        while True:
            token = self.peek()
            if token.kind == end:
                self.read()
                return
            if token.kind == _NEWLINE:
                self.read()
                continue
            if token.kind == _IDENT:
                name = self.body_item()
                if name is not None:
                    first = names.setdefault(name.text, name)
                    if first is not name:
                        where = self.show_range(first.start, first.end)
                        self.fail(
                            "Attribute redefined",
                            f'The argument "{name.text}" was already set at {where}. Each '
                            "argument may be set only once.",
                            name,
                        )
                continue
            bad = self.read()
            if bad.kind == _OQUOTE:
                self.fail("Invalid argument name", "Argument names must not be quoted.", bad)
            if bad.kind == _EOF:  # only a block's body can end early: the file's ends here
                self.fail(
                    "Unclosed configuration block",
                    "There is no closing brace for this block before the end of the file. This "
                    "may be caused by incorrect brace nesting elsewhere in this file.",
                    opening,
                )
            self.fail("Argument or block definition required", _AN_ARGUMENT_OR_BLOCK, bad)

    def body_item(self) -> _Tok | None:
        """An argument (its name returned) or a block."""
        name = self.read()
        after = self.peek()
        if after.kind == "=":
            self.attribute(name, single_line=False)
            return name
        if after.kind in (_OQUOTE, "{", _IDENT):
            self.block(name)
            return None
        self.fail(
            "Argument or block definition required", _AN_ARGUMENT_OR_BLOCK + _USE_EQUALS, name
        )

    def attribute(self, name: _Tok, single_line: bool) -> None:
        self.read()  # =
        self.expression()
        if single_line:
            return
        end = self.peek()
        if end.kind not in (_NEWLINE, _EOF):
            if end.kind == ",":
                self.fail(
                    "Unexpected comma after argument",
                    "Argument definitions must be separated by newlines, not commas. An "
                    "argument definition must end with a newline.",
                    end,
                )
            self.fail(
                "Missing newline after argument",
                "An argument definition must end with a newline.",
                end,
            )
        self.read()

    def block(self, name: _Tok) -> None:
        invalid = "Invalid block definition"
        while True:
            token = self.peek()
            if token.kind == "{":
                opening = self.read()
                break
            if token.kind == _OQUOTE:
                self.label()
            elif token.kind == _IDENT:
                self.read()
            elif token.kind == "=":
                self.fail(
                    invalid,
                    'The equals sign "=" indicates an argument definition, and must not be used '
                    "when defining a block.",
                    token,
                )
            elif token.kind == _NEWLINE:
                self.fail(
                    invalid,
                    'A block definition must have block content delimited by "{" and "}", '
                    "starting on the same line as the block header.",
                    token,
                )
            else:
                self.fail(
                    invalid,
                    'Either a quoted string block label or an opening brace ("{") is expected '
                    "here.",
                    token,
                )
        if self.peek().kind in (_NEWLINE, _EOF, "}"):
            self.body("}")
        else:
            depth = len(self.newlines)
            try:
                self.single_argument_body()
                mistake = None
            except _Found as found:
                # HCL reports what it finds after the argument before the argument's own
                # mistake: it skips to the end of the line (as it recovers) and looks there.
                mistake = found
                del self.newlines[depth:]
                self.skip_body_item()
            after = self.peek()
            single = "Invalid single-argument block definition"
            if mistake is not None and after.kind not in (",", _NEWLINE):
                raise mistake
            if after.kind == "}":
                self.read()
            elif after.kind == ",":
                self.fail(
                    single,
                    "Single-line block syntax can include only one argument definition. To "
                    "define multiple arguments, use the multi-line block syntax with one "
                    "argument definition per line.",
                    after,
                )
            elif after.kind == _NEWLINE:
                self.fail(
                    single,
                    "An argument definition on the same line as its containing block creates a "
                    "single-line block definition, which must also be closed on the same line. "
                    "Place the block's closing brace immediately after the argument definition.",
                    after,
                )
            elif after.kind == _EOF:
                self.fail(
                    "Unclosed configuration block",
                    "There is no closing brace for this block before the end of the file. This "
                    "may be caused by incorrect brace nesting elsewhere in this file.",
                    opening,
                )
            else:
                self.fail(
                    single,
                    "A single-line block definition must end with a closing brace immediately "
                    "after its single argument definition.",
                    after,
                )
        end = self.peek()
        if end.kind not in (_NEWLINE, _EOF):
            self.fail(
                "Missing newline after block definition",
                "A block definition must end with a newline.",
                end,
            )
        self.read()

    def skip_body_item(self) -> None:
        """Read on to the new line that ends the current item, brackets nested (as HCL does to
        recover after a mistake in a body item)."""
        closers = {"}": "{", "]": "[", ")": "(", _CQUOTE: _OQUOTE, _CHEREDOC: _OHEREDOC}
        opened: list[str] = []
        while True:
            token = self.read()
            kind = token.kind
            if kind == _EOF or (kind == _NEWLINE and not opened):
                return
            if kind in ("{", "[", "(", _OQUOTE, _OHEREDOC, _INTERP, _CONTROL):
                opened.append(kind)
            elif kind in closers or kind == _SEQ_END:
                wanted = (_INTERP, _CONTROL) if kind == _SEQ_END else (closers[kind],)
                while opened and opened[-1] not in wanted:
                    opened.pop()
                if opened:
                    opened.pop()

    def single_argument_body(self) -> None:
        name = self.read()
        if name.kind != _IDENT:
            self.fail("Argument or block definition required", _AN_ARGUMENT_OR_BLOCK, name)
        after = self.peek()
        if after.kind == "=":
            self.attribute(name, single_line=True)
            return
        if after.kind in (_OQUOTE, "{", _IDENT):
            self.fail(
                "Argument definition required",
                "A single-line block definition can contain only a single argument. If you "
                f'meant to define argument "{name.text}", use an equals sign to assign it a '
                "value. To define a nested block, place it on a line of its own within its "
                "parent block.",
                name,
                after,
            )
        self.fail(
            "Argument or block definition required", _AN_ARGUMENT_OR_BLOCK + _USE_EQUALS, name
        )

    def label(self) -> None:
        """A block label: a quoted string without template sequences."""
        self.read()  # "
        while True:
            token = self.read()
            if token.kind == _CQUOTE:
                return
            if token.kind == _QUOTED_LIT:
                self.string_literal(token, quoted=True)
            elif token.kind in (_INTERP, _CONTROL):
                sign = "$" if token.kind == _INTERP else "%"
                self.fail(
                    "Invalid string literal",
                    "Template sequences are not allowed in this string. To include a literal "
                    f'"{sign}", double it (as "{sign}{sign}") to escape it.',
                    token,
                )
            elif token.kind == _EOF:
                self.fail(
                    "Unterminated string literal",
                    "Unable to find the closing quote mark before the end of the file.",
                    token,
                )
            else:
                self.fail(
                    "Invalid string literal", "This item is not valid in a string literal.", token
                )

    def string_literal(self, token: _Tok, quoted: bool) -> None:
        """HCL's checks of the escape sequences in a quoted string's text."""
        if not quoted or "\\" not in token.text:
            return
        for escape in _ESCAPE.finditer(token.text):
            sequence = escape.group()
            where = (token.start + escape.start(), token.start + escape.end())
            invalid = "Invalid escape sequence"
            if len(sequence) < 2:
                self.fail(
                    invalid,
                    "Backslash must be followed by an escape sequence selector character.",
                    where,
                )
            selector = sequence[1]
            if selector in 'nrt"\\':
                continue
            if selector in "uU":
                digits = 4 if selector == "u" else 8
                if len(sequence) != digits + 2:
                    words = "four" if selector == "u" else "eight"
                    self.fail(
                        invalid,
                        f"The \\{selector} escape sequence must be followed by {words} "
                        "hexadecimal digits.",
                        where,
                    )
                code = int(sequence[2:], 16)
                if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
                    self.fail(invalid, f"Cannot encode character U+{code:04x} in UTF-8.", where)
                continue
            self.fail(
                invalid,
                f'The symbol "{selector}" is not a valid escape sequence selector.',
                where,
            )

    # expressions; each returns the range it covers

    def expression(self) -> Range:
        condition = self.binary(0)
        if self.peek().kind != "?":
            return condition
        self.read()
        self.expression()
        colon = self.peek()
        if colon.kind != ":":
            self.fail(
                "Missing false expression in conditional",
                "The conditional operator (...?...:...) requires a false expression, delimited "
                "by a colon.",
                colon,
            )
        self.read()
        false = self.expression()
        return condition[0], false[1]

    def binary(self, level: int) -> Range:
        if level == len(_BINARY_LEVELS):
            return self.traversals(self.term())
        operators = _BINARY_LEVELS[level]
        first = last = self.binary(level + 1)
        while self.peek().kind in operators:
            self.read()
            last = self.binary(level + 1)
        return first[0], last[1]

    def traversals(self, term: Range) -> Range:
        start, end = term
        while True:
            token = self.peek()
            if token.kind == ".":
                self.read()
                step = self.peek()
                if step.kind == _IDENT:
                    end = self.read().end
                elif step.kind == _NUMBER:
                    number = self.read()
                    self.legacy_index(number, number, "")
                    end = number.end
                elif step.kind == "*":
                    end = self.attribute_splat(self.read())
                else:
                    self.fail(
                        "Invalid attribute name", "An attribute name is required after a dot.", step
                    )
            elif token.kind == "[":
                self.read()
                if self.peek().kind == "*":
                    self.read()
                    closing = self.read()
                    if closing.kind != "]":
                        self.fail(
                            "Missing close bracket on splat index",
                            "The star for a full splat operator must be immediately followed by "
                            'a closing bracket ("]").',
                            closing,
                        )
                    end = closing.end
                    continue
                self.newlines.append(False)
                self.expression()
                closing = self.read()
                if closing.kind != "]":
                    self.fail(
                        "Missing close bracket on index",
                        'The index operator must end with a closing bracket ("]").',
                        closing,
                    )
                self.newlines.pop()
                end = closing.end
            else:
                return start, end

    def legacy_index(self, number: _Tok, subject: _Tok, splat: str) -> None:
        """``a.0.1`` reads as the number 0.1: HCL refuses it rather than guess."""
        if "." in number.text:
            first, second = number.text.split(".", 1)
            proper = "the proper index syntax" + (
                " with a full splat expression [*]" if splat else ""
            )
            self.fail(
                "Invalid legacy index syntax",
                "When using the legacy index syntax, chaining two indexes together is not "
                f"permitted. Use {proper} instead, like [{first}][{second}].",
                subject,
            )

    def attribute_splat(self, star: _Tok) -> int:
        end = star.end
        while self.peek().kind == ".":
            self.read()
            step = self.peek()
            if step.kind == _NUMBER:
                number = self.read()
                self.legacy_index(number, star, "splat")
                end = number.end
                continue
            if step.kind != _IDENT:
                if step.kind == "*":
                    self.fail(
                        "Nested splat expression not allowed",
                        "A splat expression (*) cannot be used inside another attribute-only "
                        "splat expression.",
                        step,
                    )
                self.fail(
                    "Invalid attribute name", "An attribute name is required after a dot.", star
                )
            end = self.read().end
        return end

    def term(self) -> Range:
        start = self.peek()
        kind = start.kind
        if kind == "(":
            self.read()
            self.newlines.append(False)
            self.expression()
            closing = self.peek()
            if closing.kind != ")":
                self.fail(
                    "Unbalanced parentheses",
                    "Expected a closing parenthesis to terminate the expression.",
                    closing,
                )
            self.read()
            self.newlines.pop()
            return start.start, closing.end
        if kind == _NUMBER:
            self.read()
            return start.start, start.end
        if kind == _IDENT:
            self.read()
            if self.peek().kind in ("(", "::"):
                return self.function_call(start)
            return start.start, start.end
        if kind in (_OQUOTE, _OHEREDOC):
            self.read()
            self.template(_CQUOTE if kind == _OQUOTE else _CHEREDOC)
            return start.start, self.previous().end
        if kind in ("-", "!"):
            self.read()
            operand = self.traversals(self.term())
            return start.start, operand[1]
        if kind == "[":
            return self.tuple_constructor()
        if kind == "{":
            return self.object_constructor()
        if kind == _EOF:
            self.fail(
                "Missing expression",
                "Expected the start of an expression, but found the end of the file.",
                start,
            )
        self.fail(
            "Invalid expression",
            "Expected the start of an expression, but found an invalid expression token.",
            start,
        )

    def function_call(self, name: _Tok) -> Range:
        opening = self.read()
        while opening.kind == "::":
            step = self.read()
            if step.kind != _IDENT:
                self.fail(
                    "Missing function name",
                    "Function scope resolution symbol :: must be followed by a function name "
                    "in this scope.",
                    step,
                )
            opening = self.read()
        if opening.kind != "(":
            self.fail(
                "Missing open parenthesis",
                "Function selector must be followed by an open parenthesis to begin the "
                "function call.",
                opening,
            )
        self.newlines.append(False)
        while True:
            if self.peek().kind == ")":
                closing = self.read()
                break
            self.expression()
            separator = self.read()
            if separator.kind == ")":
                closing = separator
                break
            if separator.kind == "...":
                if self.peek().kind != ")":
                    self.fail(
                        "Missing closing parenthesis",
                        "An expanded function argument (with ...) must be immediately followed "
                        "by closing parentheses.",
                        separator,
                    )
                closing = self.read()
                break
            if separator.kind == _EOF:
                self.fail(
                    "Unterminated function call",
                    "There is no closing parenthesis for this function call before the end of "
                    "the file. This may be caused by incorrect parenthesis nesting elsewhere in "
                    "this file.",
                    name,
                    opening,
                )
            if separator.kind != ",":
                self.fail(
                    "Missing argument separator",
                    "A comma is required to separate each function argument from the next.",
                    separator,
                )
            if self.peek().kind == ")":
                closing = self.read()
                break
        self.newlines.pop()
        return name.start, closing.end

    def tuple_constructor(self) -> Range:
        opening = self.read()
        self.newlines.append(False)
        if self.keyword(self.peek(), "for"):
            covered = self.for_expression(opening)
            self.newlines.pop()
            return covered
        while True:
            if self.peek().kind == "]":
                break
            self.expression()
            after = self.peek()
            if after.kind == "]":
                break
            if after.kind == _EOF:
                self.fail(
                    "Unterminated tuple constructor expression",
                    "There is no corresponding closing bracket before the end of the file. This "
                    "may be caused by incorrect bracket nesting elsewhere in this file.",
                    opening,
                )
            if after.kind != ",":
                self.fail(
                    "Missing item separator",
                    "Expected a comma to mark the beginning of the next item.",
                    after,
                )
            self.read()
        closing = self.read()
        self.newlines.pop()
        return opening.start, closing.end

    def object_constructor(self) -> Range:
        opening = self.read()
        self.newlines.append(False)
        is_for = self.keyword(self.peek(), "for")
        self.newlines.pop()
        if is_for:
            return self.for_expression(opening)
        unterminated = (
            "Unterminated object constructor expression",
            "There is no corresponding closing brace before the end of the file. This may be "
            "caused by incorrect brace nesting elsewhere in this file.",
        )
        self.newlines.append(True)
        while True:
            token = self.peek()
            if token.kind == _NEWLINE:
                self.read()
                continue
            if token.kind == "}":
                break
            self.expression()
            after = self.peek()
            if after.kind not in ("=", ":"):
                if after.kind in (_NEWLINE, ","):
                    self.fail(
                        "Missing attribute value",
                        'Expected an attribute value, introduced by an equals sign ("=").',
                        after,
                    )
                if after.kind == _EOF:
                    self.fail(*unterminated, opening)
                hint = (
                    " If you intended to given an attribute name containing periods or spaces, "
                    "write the name in quotes to create a string literal."
                    if after.kind == _IDENT
                    else ""
                )
                self.fail(
                    "Missing key/value separator",
                    'Expected an equals sign ("=") to mark the beginning of the attribute '
                    f"value.{hint}",
                    after,
                )
            self.read()
            self.expression()
            after = self.peek()
            if after.kind == "}":
                break
            if after.kind not in (",", _NEWLINE):
                if after.kind == _EOF:
                    self.fail(*unterminated, opening)
                self.fail(
                    "Missing attribute separator",
                    "Expected a newline or comma to mark the beginning of the next attribute.",
                    after,
                )
            self.read()
        closing = self.read()
        self.newlines.pop()
        return opening.start, closing.end

    def for_expression(self, opening: _Tok) -> Range:
        invalid = "Invalid 'for' expression"
        self.newlines.append(False)
        self.read()  # for
        is_object = opening.kind == "{"
        closer = "}" if is_object else "]"
        if self.peek().kind != _IDENT:
            self.fail(invalid, "For expression requires variable name after 'for'.", self.peek())
        self.read()
        if self.peek().kind == ",":
            self.read()
            if self.peek().kind != _IDENT:
                self.fail(
                    invalid,
                    "For expression requires value variable name after comma.",
                    self.peek(),
                )
            self.read()
        if not self.keyword(self.peek(), "in"):
            self.fail(
                invalid,
                "For expression requires the 'in' keyword after its name declarations.",
                self.peek(),
            )
        self.read()
        self.expression()
        if self.peek().kind != ":":
            self.fail(
                invalid,
                "For expression requires a colon after the collection expression.",
                self.peek(),
            )
        self.read()
        value = self.expression()
        key: Range | None = None
        if self.peek().kind == "=>":
            self.read()
            key, value = value, self.expression()
        grouping = self.read() if self.peek().kind == "..." else None
        if self.keyword(self.peek(), "if"):
            self.read()
            self.expression()
        if self.peek().kind != closer:
            self.fail(
                invalid, "Extra characters after the end of the 'for' expression.", self.peek()
            )
        closing = self.read()
        if not is_object:
            if key is not None:
                self.fail(invalid, "Key expression is not valid when building a tuple.", key)
            if grouping is not None:
                self.fail(
                    invalid,
                    "Grouping ellipsis (...) cannot be used when building a tuple.",
                    grouping,
                )
        elif key is None:
            self.fail(invalid, "Key expression is required when building an object.", value)
        self.newlines.pop()
        return opening.start, closing.end

    # templates

    def template(self, end: str) -> None:
        """A quoted string's or heredoc's parts up to ``end``, then their directives' nesting."""
        first = self.peek()
        parts: list[builtins.tuple[str, Range]] = []
        while True:
            token = self.read()
            if token.kind == end:
                parts.append(("end", (token.start, token.end)))
                break
            if token.kind in (_QUOTED_LIT, _STRING_LIT):
                self.string_literal(token, quoted=token.kind == _QUOTED_LIT)
            elif token.kind == _INTERP:
                self.interpolation(first, end)
            elif token.kind == _CONTROL:
                parts.append(self.directive(token))
            else:
                self.fail("Unterminated template string", _NO_CLOSING_MARKER, token)
        _TemplateNesting(parts, self.show_range).check()

    def interpolation(self, first: _Tok, end: str) -> None:
        self.newlines.append(False)
        self.expression()
        closing = self.peek()
        if closing.kind != _SEQ_END:
            unclosed = "Unclosed template interpolation sequence"
            extra = "Extra characters after interpolation expression"
            escape = 'escape it by starting with "$${" instead of just "${".'
            if closing.kind == _EOF:
                self.fail(
                    unclosed,
                    "There is no closing brace for this interpolation sequence before the end of "
                    "the file. This might be caused by incorrect nesting inside the given "
                    "expression.",
                    first,
                )
            if closing.kind == ":":
                self.fail(
                    extra,
                    "Template interpolation doesn't expect a colon at this location. Did you "
                    "intend this to be a literal sequence to be processed as part of another "
                    f"language? If so, you can {escape}",
                    closing,
                )
            if closing.kind in (_CQUOTE, _OQUOTE) and end == _CQUOTE:
                self.fail(
                    unclosed,
                    "There is no closing brace for this interpolation sequence before the end of "
                    "the quoted template. This might be caused by incorrect nesting inside the "
                    "given expression.",
                    first,
                )
            self.fail(
                extra,
                "Expected a closing brace to end the interpolation expression, but found extra "
                "characters.\n\nThis can happen when you include interpolation syntax for "
                "another language, such as shell scripting, but forget to escape the "
                "interpolation start token. If this is an embedded sequence for another "
                f"language, {escape}",
                closing,
            )
        self.read()
        self.newlines.pop()

    def directive(self, opening: _Tok) -> builtins.tuple[str, Range]:
        self.newlines.append(False)
        word = self.peek()
        if word.kind != _IDENT:
            self.fail(
                "Invalid template directive",
                'A template directive keyword ("if", "for", etc) is expected at the beginning of '
                "a %{ sequence.",
                word,
            )
        self.read()
        name = word.text
        invalid_for = "Invalid 'for' directive"
        if name == "if":
            self.expression()
        elif name == "for":
            if self.peek().kind != _IDENT:
                self.fail(
                    invalid_for, "For directive requires variable name after 'for'.", self.peek()
                )
            self.read()
            if self.peek().kind == ",":
                self.read()
                if self.peek().kind != _IDENT:
                    self.fail(
                        invalid_for,
                        "For directive requires value variable name after comma.",
                        self.peek(),
                    )
                self.read()
            if not self.keyword(self.peek(), "in"):
                self.fail(
                    invalid_for, "For directive requires 'in' keyword after names.", self.peek()
                )
            self.read()
            self.expression()
        elif name not in _DIRECTIVE_WORDS:
            suggestion = next(
                (word for word in _DIRECTIVE_WORDS if _levenshtein(name, word) < 3), None
            )
            hint = f' Did you mean "{suggestion}"?' if suggestion else ""
            self.fail(
                "Invalid template control keyword",
                f'"{name}" is not a valid template control keyword.{hint}',
                word,
            )
        closing = self.peek()
        if closing.kind != _SEQ_END:
            self.fail(
                f"Extra characters in {name} marker",
                "Expected a closing brace to end the sequence, but found extra characters.",
                closing,
            )
        self.read()
        self.newlines.pop()
        return name, (opening.start, closing.end)


class _TemplateNesting:
    """HCL's second pass over a template's parts: each ``if`` and ``for`` closed in turn."""

    def __init__(
        self, parts: list[builtins.tuple[str, Range]], show_range: Callable[[int, int], str]
    ) -> None:
        self.parts = parts
        self.index = 0
        self.show_range = show_range

    def check(self) -> None:
        while self.parts[self.index][0] != "end":
            self.part()

    def part(self) -> None:
        kind, where = self.parts[self.index]
        self.index += 1
        if kind in ("if", "for"):
            self.directive(kind, where)
        elif kind != "end" and kind in _DIRECTIVE_WORDS:
            raise _Found(f"Unexpected {kind} directive", _UNBALANCED, *where)

    def directive(self, kind: str, opened: Range) -> None:
        at = self.show_range(*opened)
        in_else = False
        while True:
            following, where = self.parts[self.index]
            if following == "end":
                closer = "endif" if kind == "if" else "endfor"
                raise _Found(
                    "Unexpected end of template",
                    f"The {kind} directive at {at} is missing its corresponding {closer} "
                    "directive.",
                    *where,
                )
            if following in ("else", "endif", "endfor"):
                self.index += 1
                if kind == "if":
                    if following == "endif":
                        return
                    if following == "else" and not in_else:
                        in_else = True
                        continue
                    if following == "else":
                        detail = f"Already in the else clause for the if started at {at}."
                    else:
                        detail = f"Expecting an endif directive for the if started at {at}."
                else:
                    if following == "endfor":
                        return
                    if following == "else":
                        detail = "An else clause is not expected for a for directive."
                    else:
                        detail = (
                            "Expecting an endfor directive corresponding to the for directive "
                            f"at {at}."
                        )
                raise _Found(f"Unexpected {following} directive", detail, *where)
            self.part()


def _levenshtein(first: str, second: str) -> int:
    previous = list(range(len(second) + 1))
    for row, a in enumerate(first, start=1):
        current = [row]
        for column, b in enumerate(second, start=1):
            current.append(
                min(previous[column] + 1, current[column - 1] + 1, previous[column - 1] + (a != b))
            )
        previous = current
    return previous[-1]


def terraform_error(
    text: str, file: str, mode: str = "config", line: int = 1, column: int = 1
) -> ParseError | None:
    """The first syntax error Terraform reports in ``text`` (a whole file for ``config``, one
    expression for ``expression``, a template file's text for ``template``), starting at
    ``line``:``column`` of ``file``: in Terraform's words and at its place. None when HCL's
    parser finds nothing wrong, that is, when only templater's grammar cannot read it.
    RecursionError when the text nests too deeply to be read this way."""
    locate = Locator(text, file, line, column)

    def show_range(start: int, end: int) -> str:
        return hcl_range(locate.span(start, end))

    try:
        tokens = _Scanner(text, template=mode == "template").scan()
        _check_tokens(tokens)
        reader = _Reader(tokens, show_range)
        if mode == "config":
            reader.body(_EOF)
        elif mode == "template":
            reader.template(_EOF)
        else:
            reader.newlines.append(False)
            reader.expression()
            extra = reader.peek()
            if extra.kind != _EOF:
                reader.fail(
                    "Extra characters after expression",
                    "An expression was successfully parsed, but extra characters were found "
                    "after it.",
                    extra,
                )
    except _Found as found:
        start, end = found.start, max(found.end, found.start + 1)
        if text.endswith("\n", 0, end):
            # A span that takes a new line ends on its own line (HCL's would end at the start
            # of the next one, and be shown across two).
            line_end, column_end = locate.position(end - 1)
            span = Span(file, *locate.position(start), line_end, column_end + 1)
        else:
            span = locate.span(start, end)
        return ParseError(syntax_message(found.summary, found.detail), span)
    return None


def _last_line(node: Node) -> int:
    """The line a body item or value ends on: a block's closing brace's, or a heredoc's
    closing marker's (its token takes the new line after it)."""
    if isinstance(node, Block):
        return node.body.span.end_line
    span = node.span
    return (
        span.end_line - 1 if span.end_column == 1 and span.end_line > span.line else span.end_line
    )


def _bad_escape(text: str) -> bool:
    """Whether a quoted string's text has an escape sequence HCL refuses."""
    for escape in _ESCAPE.finditer(text):
        sequence = escape.group()
        if len(sequence) < 2:
            return True
        selector = sequence[1]
        if selector in "uU":
            if len(sequence) != (6 if selector == "u" else 10):
                return True
            code = int(sequence[2:], 16)
            if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
                return True
        elif selector not in 'nrt"\\':
            return True
    return False


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
        self.body_items: builtins.tuple[Attribute | Block, Attribute | Block, int] | None = None

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
        items: list[Attribute | Block] = []
        for child in children:
            if child is None:  # a new line or comment
                continue
            # The grammar lets items share a line; HCL ends each with a new line. (The new
            # lines themselves cannot tell: an expression may take the one after it.)
            if items and child.span.line <= _last_line(items[-1]):
                raise ParseError("two arguments or blocks on one line", child.span)
            items.append(child)
            if isinstance(child, Attribute):
                if child.name in attributes:
                    duplicates.append(child)
                else:
                    attributes[child.name] = child
            else:
                blocks.append(child)
        span = items[0].span.to(items[-1].span) if items else Span(self.file, 1, 1, 1, 1)
        # For the block this body belongs to, reduced next (only its closing brace between).
        self.body_items = (items[0], items[-1], len(items)) if items else None
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
        opening: Token | None = None
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
            elif child is None and opening is None:
                # HCL wants the opening brace on the header's line.
                raise ParseError(
                    "a block's opening brace on a line of its own", self._between(type_token, last)
                )
        assert body is not None and opening is not None
        body.span = self._between(opening, closing)
        if not self._laid_out_as_hcl(body.span):
            raise ParseError("a block's items laid out as HCL does not take", body.span)
        type_span = self.span_of(type_token)
        header = self._between(type_token, last)
        return Block(str(type_token), labels, body, type_span, header, label_spans)

    def _laid_out_as_hcl(self, braces: Span) -> bool:
        """HCL's two forms of a block body: items on lines of their own, the closing brace on
        a line after the last; or one argument on the line of both braces. The grammar takes
        any mixture."""
        items, self.body_items = self.body_items, None
        if items is None:
            return True
        first, last, count = items
        if first.span.line > braces.line:
            return _last_line(last) < braces.end_line
        return (
            count == 1
            and isinstance(first, Attribute)
            and first.span.end_column > 1  # not a heredoc, whose token ends its line
            and first.span.end_line == braces.end_line
        )

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
                    # The grammar takes what HCL refuses in a quoted string: a line break and
                    # escapes other than HCL's (JSON's are JSON's own).
                    if "\n" in text or "\r" in text:
                        raise ParseError("a quoted string split over lines", self.span_of(part))
                    if "\\" in text and not self.file.endswith(".json") and _bad_escape(text):
                        raise ParseError("an invalid escape sequence", self.span_of(part))
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
        items: list[builtins.tuple[Expr, Expr]] = []
        comma = False
        for child in children:
            if isinstance(child, tuple):
                # The grammar takes `{ a = 1 b = 2 }`; HCL wants a comma or a new line between.
                if items and not comma and child[0].span.line <= _last_line(items[-1][1]):
                    raise ParseError("two object elements without a separator", child[0].span)
                items.append(child)
                comma = False
            elif isinstance(child, Token) and child.type == "COMMA":
                comma = True
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
