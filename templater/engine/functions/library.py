"""The Terraform function library, with Terraform's semantics and messages.

Each function is a :class:`Function` in :data:`FUNCTIONS`; :func:`call_function` checks the
arguments the way cty does before calling it: arity, null arguments, unknown arguments (per
the function's unknown policy) and conversion of each argument to its parameter's type, so
``upper(5)`` works and ``upper([])`` says which parameter is wrong. Implementations receive
``(ctx, *args)`` with the arguments already converted.

``can`` and ``try`` are not here: they need their argument expressions unevaluated, so the
evaluator implements them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import re
import struct
import unicodedata
import urllib.parse
import zlib
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Literal, NamedTuple, TypeVar

from templater.engine.files import Files
from templater.engine.types import (
    ANY,
    BOOL,
    NUMBER,
    STRING,
    ConversionError,
    TypeSpec,
    convert,
    describe_value,
    infer_type,
    list_of,
    map_of,
    parse_number,
    set_of,
    unify,
    value_key,
)
from templater.engine.values import (
    EvalError,
    Number,
    Unknown,
    Value,
    is_number,
    is_wholly_known,
    normalize_number,
    render,
)

__all__ = [
    "FUNCTIONS",
    "Function",
    "FunctionContext",
    "Param",
    "UnknownPolicy",
    "call_function",
]

UnknownPolicy = Literal["deep", "shallow", "handles"]
"""How a function meets unknown arguments.

``deep``: any argument that is not wholly known makes the result unknown without a call.
``shallow``: only an argument that is itself unknown does; the function copes with unknown
elements. ``handles``: the function gets unknown arguments as they are.
"""


class Param(NamedTuple):
    """A parameter: its name (for messages), the conversion its argument gets, and whether the
    argument may be null. The conversion raises :class:`ConversionError` when it cannot."""

    name: str
    convert: Callable[[Value], Value] | None = None
    nullable: bool = False


@dataclass(frozen=True, slots=True)
class Function:
    """A Terraform function; ``max_args`` is None when the last parameter repeats."""

    name: str
    impl: Callable[..., Value]
    min_args: int
    max_args: int | None
    unknowns: UnknownPolicy = "deep"
    params: tuple[Param, ...] = ()

    def param(self, index: int) -> Param:
        """The parameter the argument at ``index`` binds to (the last one repeats)."""
        return self.params[min(index, len(self.params) - 1)]


def _read_utf8(path: Path) -> str:
    # Not Path.read_text: that translates "\r\n", and file() must return the bytes as they are.
    return path.read_bytes().decode("utf-8")


@dataclass
class FunctionContext:
    """What functions need from their surroundings.

    ``base_dir`` is the module directory, against which relative file paths resolve.
    ``render_template(text, variables, file_name)`` renders a template for ``templatefile``.
    ``read_text`` and ``read_bytes`` read files, so a caller can cache or observe reads;
    ``files`` answers the other questions about the file system (fileexists, fileset).
    """

    base_dir: Path
    render_template: Callable[[str, dict[str, Value], str], Value]
    read_text: Callable[[Path], str] = _read_utf8
    read_bytes: Callable[[Path], bytes] = Path.read_bytes
    files: Files = field(default_factory=Files)


FUNCTIONS: dict[str, Function] = {}


class _Failure(Exception):
    """A function's own error; ``arg`` is the index of the argument at fault, if one is."""

    def __init__(self, message: str, arg: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.arg = arg


def call_function(name: str, args: Sequence[Value], ctx: FunctionContext) -> Value:
    """Call Terraform function ``name`` with evaluated ``args``; errors are :class:`EvalError`."""
    function = FUNCTIONS.get(name)
    if function is None:
        raise EvalError(f'there is no function named "{name}"')
    _check_arity(function, len(args))
    policy = function.unknowns
    values = list(args)
    for index, arg in enumerate(values):
        param = function.param(index)
        if arg is None:
            if not param.nullable:
                raise EvalError(
                    f'Invalid value for "{param.name}" parameter: argument must not be null'
                )
            continue
        if isinstance(arg, Unknown):
            if policy != "handles":
                return Unknown()
            continue
        if policy == "deep" and not is_wholly_known(arg):
            return Unknown()
        if param.convert is not None:
            try:
                values[index] = param.convert(arg)
            except ConversionError as err:
                raise EvalError(
                    f'Invalid value for "{param.name}" parameter: {err.message}'
                ) from None
    try:
        return function.impl(ctx, *values)
    except _Failure as failure:
        if failure.arg is None:
            raise EvalError(f'Call to function "{name}" failed: {failure.message}') from None
        param_name = function.param(failure.arg).name
        raise EvalError(f'Invalid value for "{param_name}" parameter: {failure.message}') from None
    except ConversionError as err:
        raise EvalError(f'Call to function "{name}" failed: {err.message}') from None


def _check_arity(function: Function, count: int) -> None:
    if count < function.min_args:
        at_least = "" if function.max_args == function.min_args else "at least "
        raise EvalError(
            f'Not enough function arguments: function "{function.name}" expects {at_least}'
            f'{function.min_args} argument(s); missing value for "{function.param(count).name}"'
        )
    if function.max_args is not None and count > function.max_args:
        only = "only" if function.max_args == function.min_args else "at most"
        raise EvalError(
            f'Too many function arguments: function "{function.name}" expects {only} '
            f"{function.max_args} argument(s)"
        )


_Impl = TypeVar("_Impl", bound=Callable[..., Value])


def _function(
    name: str,
    *params: Param,
    required: int | None = None,
    variadic: bool = False,
    unknowns: UnknownPolicy = "deep",
) -> Callable[[_Impl], _Impl]:
    """Register the decorated implementation as function ``name``.

    ``required`` is how many leading parameters must be given (all, by default); with
    ``variadic`` the last parameter takes any number of arguments, none included.
    """

    def register(impl: _Impl) -> _Impl:
        count = len(params)
        min_args = required if required is not None else count - variadic
        max_args = None if variadic else count
        FUNCTIONS[name] = Function(name, impl, min_args, max_args, unknowns, params)
        return impl

    return register


# --- argument conversions ----------------------------------------------------------------------
# Fast paths first: most arguments already have the wanted type.


def _string(value: Value) -> str:
    return value if type(value) is str else convert(value, STRING)


def _number(value: Value) -> Number:
    return value if type(value) in (int, float) else convert(value, NUMBER)  # type: ignore[no-any-return]


def _bool(value: Value) -> bool:
    return value if type(value) is bool else convert(value, BOOL)


def _whole(value: Value) -> int:
    number = _number(value)
    if isinstance(number, float):
        if not number.is_integer():
            raise ConversionError(f"a whole number is required, got {describe_value(number)}")
        return int(number)
    return number


def _sequence(value: Value) -> list[Value]:
    if not isinstance(value, list):
        raise ConversionError(f"a list is required, got {describe_value(value)}")
    return value


def _mapping(value: Value) -> dict[str, Value]:
    if not isinstance(value, dict):
        raise ConversionError(f"a map is required, got {describe_value(value)}")
    return value


_STRINGS = list_of(STRING)


def _strings(value: Value) -> list[Value]:
    return convert(value, _STRINGS)  # type: ignore[no-any-return]


def _bools(value: Value) -> list[Value]:
    return convert(value, list_of(BOOL))  # type: ignore[no-any-return]


def _exact(number: Number) -> Decimal:
    """A number as an exact decimal: a float by its shortest repr, which is the decimal
    literal it most likely came from, as cty keeps numbers in decimal-friendly big floats."""
    return Decimal(number) if isinstance(number, int) else Decimal(repr(number))


def _from_exact(number: Decimal) -> Number:
    if number == number.to_integral_value():
        return int(number)
    return normalize_number(float(number))


# --- unicode text --------------------------------------------------------------------------------
# Terraform counts, slices and pads strings by grapheme cluster (what a reader sees as one
# character). This is an approximation of UAX #29 covering combining marks, emoji ZWJ
# sequences, skin-tone modifiers, flags and CRLF, which is what real text contains.

_EXTENDING = frozenset({"Mn", "Me", "Mc"})
_REGIONAL_INDICATORS = "".join(map(chr, range(0x1F1E6, 0x1F200)))


def _graphemes(text: str) -> list[str]:
    if text.isascii() and "\r" not in text:
        return list(text)
    clusters: list[str] = []
    for char in text:
        if clusters and _extends(clusters[-1], char):
            clusters[-1] += char
        else:
            clusters.append(char)
    return clusters


def _extends(cluster: str, char: str) -> bool:
    """Whether ``char`` continues the grapheme cluster ``cluster`` rather than starting one."""
    last = cluster[-1]
    if last == "\r":
        return char == "\n"
    if last < " " or char < " ":
        return False
    code = ord(char)
    if char == "\u200d" or 0x1F3FB <= code <= 0x1F3FF or unicodedata.category(char) in _EXTENDING:
        return True
    if last == "\u200d":
        return unicodedata.category(char) == "So"
    if _is_regional(code) and _is_regional(ord(last)):
        run = len(cluster) - len(cluster.rstrip(_REGIONAL_INDICATORS))
        return run % 2 == 1
    return False


def _is_regional(code: int) -> bool:
    return 0x1F1E6 <= code <= 0x1F1FF


def _length(text: str) -> int:
    if text.isascii():
        return len(text) - text.count("\r\n")
    return len(_graphemes(text))


def _go_map(text: str, change: Callable[[str], str]) -> str:
    """Go changes case rune by rune: a rune whose change is not one rune stays as it is."""
    if text.isascii():
        return change(text)
    return "".join(changed if len(changed := change(char)) == 1 else char for char in text)


# Go's unicode.IsSpace; str.strip() would also strip the ASCII separators \x1c-\x1f.
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def _is_word_char(char: str) -> bool:
    """Whether Go's strings.Title sees ``char`` inside a word: ASCII alphanumerics and "_",
    and beyond ASCII anything but a space."""
    if char.isascii():
        return char.isalnum() or char == "_"
    return not char.isspace()


# --- string functions ----------------------------------------------------------------------------


@_function("upper", Param("str", _string))
def _upper(ctx: FunctionContext, text: str) -> str:
    return _go_map(text, str.upper)


@_function("lower", Param("str", _string))
def _lower(ctx: FunctionContext, text: str) -> str:
    return _go_map(text, str.lower)


@_function("title", Param("str", _string))
def _title(ctx: FunctionContext, text: str) -> str:
    out = []
    previous = " "
    for char in text:
        if not _is_word_char(previous):
            upper = char.upper()
            out.append(upper if len(upper) == 1 else char)
        else:
            out.append(char)
        previous = char
    return "".join(out)


@_function("trimspace", Param("str", _string))
def _trimspace(ctx: FunctionContext, text: str) -> str:
    return text.strip(_GO_SPACE)


@_function("trim", Param("str", _string), Param("cutset", _string))
def _trim(ctx: FunctionContext, text: str, cutset: str) -> str:
    return text.strip(cutset)


@_function("trimprefix", Param("str", _string), Param("prefix", _string))
def _trimprefix(ctx: FunctionContext, text: str, prefix: str) -> str:
    return text.removeprefix(prefix)


@_function("trimsuffix", Param("str", _string), Param("suffix", _string))
def _trimsuffix(ctx: FunctionContext, text: str, suffix: str) -> str:
    return text.removesuffix(suffix)


@_function("chomp", Param("str", _string))
def _chomp(ctx: FunctionContext, text: str) -> str:
    # Terraform removes every trailing \n, \r\n and \r.
    return text.rstrip("\r\n")


@_function("indent", Param("spaces", _whole), Param("str", _string))
def _indent(ctx: FunctionContext, spaces: int, text: str) -> str:
    if spaces < 0:
        raise _Failure("the number of spaces must not be negative", arg=0)
    return text.replace("\n", "\n" + " " * spaces)


@_function("join", Param("separator", _string), Param("lists", _strings), variadic=True)
def _join(ctx: FunctionContext, separator: str, *lists: list[str | None]) -> str:
    if not lists:
        raise _Failure("at least one list is required")
    items: list[str] = []
    for number, items_of_list in enumerate(lists, start=1):
        for index, item in enumerate(items_of_list):
            if item is None:
                where = (
                    f"element {index} of list {number}" if len(lists) > 1 else f"element {index}"
                )
                raise _Failure(f"{where} is null; cannot concatenate null values", arg=number)
            items.append(item)
    return separator.join(items)


@_function("split", Param("separator", _string), Param("str", _string))
def _split(ctx: FunctionContext, separator: str, text: str) -> list[str]:
    # Go splits into single characters on an empty separator, where Python raises.
    return text.split(separator) if separator else list(text)


@_function("replace", Param("str", _string), Param("substr", _string), Param("replace", _string))
def _replace(ctx: FunctionContext, text: str, search: str, replacement: str) -> str:
    if len(search) > 1 and search[0] == "/" and search[-1] == "/":
        pattern = _regexp(search[1:-1], arg=1)
        parts = _replacement_parts(replacement)
        out = []
        position = 0
        for match in _matches(pattern, text):
            out.append(text[position : match.start()])
            out.extend(part if isinstance(part, str) else _group(match, part) for part in parts)
            position = match.end()
        out.append(text[position:])
        return "".join(out)
    return text.replace(search, replacement)


@_function("substr", Param("str", _string), Param("offset", _whole), Param("length", _whole))
def _substr(ctx: FunctionContext, text: str, offset: int, length: int) -> str:
    clusters = _graphemes(text)
    if offset < 0:
        offset = max(offset + len(clusters), 0)
    elif length == 0:
        return ""
    rest = clusters[offset:]
    # A negative length takes the rest; so does 0 after a negative offset, as in cty.
    return "".join(rest if length <= 0 else rest[:length])


@_function("strrev", Param("str", _string))
def _strrev(ctx: FunctionContext, text: str) -> str:
    return "".join(reversed(_graphemes(text)))


@_function("strcontains", Param("str", _string), Param("substr", _string))
def _strcontains(ctx: FunctionContext, text: str, part: str) -> bool:
    return part in text


@_function("startswith", Param("str", _string), Param("prefix", _string))
def _startswith(ctx: FunctionContext, text: str, prefix: str) -> bool:
    return text.startswith(prefix)


@_function("endswith", Param("str", _string), Param("suffix", _string))
def _endswith(ctx: FunctionContext, text: str, suffix: str) -> bool:
    return text.endswith(suffix)


# --- regular expressions -------------------------------------------------------------------------
# Terraform uses Go's RE2 syntax. Python's re reads most of it the same way; _translate rewrites
# the parts it reads differently. re.ASCII matches RE2, whose \d, \w, \s and \b are ASCII-only.

_POSIX_CLASSES = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
_FLAGS_GROUP = re.compile(r"\(\?[imsU]*(?:-[imsU]*)?\)")
# A flag group, plain or scoped, that turns multi-line mode on.
_MULTILINE = re.compile(r"\(\?[imsU]*m[imsU]*(?:-[imsU]*)?[:)]")
_HEX_ESCAPE = re.compile(r"\\x\{([0-9A-Fa-f]+)\}")


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(_translate(pattern), re.ASCII)


def _regexp(pattern: str, arg: int) -> re.Pattern[str]:
    try:
        return _compile(pattern)
    except (re.error, ValueError) as err:
        message = err.msg if isinstance(err, re.error) else str(err)
        raise _Failure(
            f"invalid regular expression {render(pattern)}: {message}", arg=arg
        ) from None


def _translate(pattern: str) -> str:
    """RE2 syntax rewritten where Python's re reads it differently.

    ``$`` is end of text in RE2 but also matches before a final newline in Python; ``\\z`` is
    Python's ``\\Z``; ``(?<name>`` needs a P; POSIX classes and ``\\x{…}`` are unknown to
    Python; and a flag group such as ``(?i)`` in mid-pattern, which Python refuses, becomes a
    scoped group running to the end of the enclosing group.
    """
    multiline = _MULTILINE.search(pattern) is not None
    out: list[str] = []
    closers = [0]  # per open group: scoped flag groups to close when it closes
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            escape = pattern[i : i + 2]
            if escape == "\\z":
                out.append("\\Z")
            elif escape == "\\Q":
                end = pattern.find("\\E", i + 2)
                end = len(pattern) if end < 0 else end
                out.append(re.escape(pattern[i + 2 : end]))
                i = end + 2
                continue
            elif hex_escape := _HEX_ESCAPE.match(pattern, i):
                out.append(f"\\U{int(hex_escape.group(1), 16):08x}")
                i = hex_escape.end()
                continue
            else:
                out.append(escape)
            i += 2
        elif char == "[":
            end, text = _translate_class(pattern, i)
            out.append(text)
            i = end
        elif char == "(":
            flags = _FLAGS_GROUP.match(pattern, i)
            if flags and i > 0:
                out.append(flags.group(0)[:-1] + ":")
                closers[-1] += 1
                i = flags.end()
                continue
            closers.append(0)
            if pattern.startswith("(?<", i) and pattern[i + 3 : i + 4] not in ("=", "!"):
                out.append("(?P<")
                i += 3
            else:
                out.append(char)
                i += 1
        elif char == ")":
            out.append(")" * closers.pop() if len(closers) > 1 else "")
            out.append(char)
            i += 1
        elif char == "$" and not multiline:
            out.append("\\Z")
            i += 1
        else:
            out.append(char)
            i += 1
    out.append(")" * closers[0])
    return "".join(out)


def _translate_class(pattern: str, start: int) -> tuple[int, str]:
    """The character class starting at ``start``: where it ends and its Python spelling."""
    out = ["["]
    i = start + 1
    if pattern.startswith("^", i):
        out.append("^")
        i += 1
    first = True
    while i < len(pattern):
        char = pattern[i]
        if char == "]" and not first:
            out.append("]")
            return i + 1, "".join(out)
        if char == "\\":
            out.append(pattern[i : i + 2])
            i += 2
        elif pattern.startswith("[:", i):
            end = pattern.find(":]", i + 2)
            name = pattern[i + 2 : end] if end > 0 else ""
            if name not in _POSIX_CLASSES:
                raise ValueError(f"invalid character class range: {pattern[i : end + 2]}")
            out.append(_POSIX_CLASSES[name])
            i = end + 2
        else:
            # A "[" (or "&", "~", "|") inside a class is literal in RE2; Python warns that a
            # later version may read them as set operations, so escape them.
            out.append("\\" + char if char in "[&~|" else char)
            i += 1
        first = False
    raise ValueError("missing closing ]")


def _matches(pattern: re.Pattern[str], text: str) -> list[re.Match[str]]:
    """All matches, by Go's rule: an empty match right after the previous match is dropped
    (Python's finditer keeps some of those)."""
    found = []
    position = 0
    previous_end = -1
    while position <= len(text):
        match = pattern.search(text, position)
        if match is None:
            break
        if match.end() == position:
            if match.start() != previous_end:
                found.append(match)
            position += 1
        else:
            found.append(match)
            position = match.end()
        previous_end = match.end()
    return found


_TEMPLATE_REFERENCE = re.compile(r"\$(?:(\$)|\{(\w+)\}|(\w+))?")


def _replacement_parts(template: str) -> list[str | int | tuple[str]]:
    """A regexp replacement split into literal text and group references, by Go's Expand:
    ``$1``, ``${1}``, ``$name``, ``${name}``, ``$$``; ``$name`` takes the longest name."""
    parts: list[str | int | tuple[str]] = []
    position = 0
    for reference in _TEMPLATE_REFERENCE.finditer(template):
        parts.append(template[position : reference.start()])
        dollar, braced, bare = reference.groups()
        name = braced or bare
        if dollar or name is None:
            parts.append("$")
        elif name.isascii() and name.isdigit() and (name == "0" or name[0] != "0"):
            parts.append(int(name))
        else:
            parts.append((name,))
        position = reference.end()
    parts.append(template[position:])
    return [part for part in parts if part != ""]


def _group(match: re.Match[str], reference: int | tuple[str]) -> str:
    """A group's text for a replacement; a group that does not exist or did not match is
    empty, as in Go."""
    if isinstance(reference, int):
        found = match.group(reference) if reference <= (match.re.groups) else None
    else:
        found = match.group(reference[0]) if reference[0] in match.re.groupindex else None
    return found or ""


def _match_result(pattern: re.Pattern[str], match: re.Match[str]) -> Value:
    if pattern.groups == 0:
        return match.group(0)
    if not pattern.groupindex:
        return list(match.groups())
    return match.groupdict()


def _result_shape_check(pattern: re.Pattern[str]) -> None:
    if pattern.groupindex and len(pattern.groupindex) != pattern.groups:
        raise _Failure(
            "invalid regexp pattern: cannot mix both named and unnamed capture groups", arg=0
        )


@_function("regex", Param("pattern", _string), Param("string", _string))
def _regex(ctx: FunctionContext, pattern_text: str, text: str) -> Value:
    pattern = _regexp(pattern_text, arg=0)
    _result_shape_check(pattern)
    found = _matches(pattern, text)
    if not found:
        raise _Failure("pattern did not match any part of the given string")
    return _match_result(pattern, found[0])


@_function("regexall", Param("pattern", _string), Param("string", _string))
def _regexall(ctx: FunctionContext, pattern_text: str, text: str) -> list[Value]:
    pattern = _regexp(pattern_text, arg=0)
    _result_shape_check(pattern)
    return [_match_result(pattern, match) for match in _matches(pattern, text)]


# --- format and formatlist -----------------------------------------------------------------------
# cty's format verbs: %[flags][width][.precision][[argument]]verb, measured in graphemes.

_VERB = re.compile(
    r"%(?P<flags>[-+# 0]*)(?P<width>[1-9][0-9]*)?(?P<precision>\.[0-9]*)?"
    r"(?:\[(?P<index>[1-9][0-9]*)\])?(?P<mode>[A-Za-z])"
)
_VERB_PREFIX = re.compile(r"%[-+# 0]*(?:[1-9][0-9]*)?(?:\.[0-9]*)?(?:\[[1-9][0-9]*\])?")


class _Verb(NamedTuple):
    raw: str
    offset: int
    flags: str
    width: int | None
    precision: int | None
    argument: int | None
    mode: str


@lru_cache(maxsize=256)
def _parse_format(spec: str) -> tuple[str | _Verb, ...]:
    """The format string as literal text and verbs; cached since formats recur in loops."""
    parts: list[str | _Verb] = []
    literal: list[str] = []
    position = 0
    while (percent := spec.find("%", position)) >= 0:
        literal.append(spec[position:percent])
        if spec.startswith("%%", percent):
            literal.append("%")
            position = percent + 2
            continue
        match = _VERB.match(spec, percent)
        if match is None:
            prefix = _VERB_PREFIX.match(spec, percent)
            end = prefix.end() if prefix else percent + 1
            if end >= len(spec):
                raise _Failure(f"invalid format string starting at offset {percent}", arg=0)
            raise _Failure(f"unrecognized format character '{spec[end]}' at offset {end}", arg=0)
        parts.append("".join(literal))
        literal = []
        precision = match.group("precision")
        parts.append(
            _Verb(
                raw=match.group(0),
                offset=percent,
                flags=match.group("flags"),
                width=int(match.group("width")) if match.group("width") else None,
                precision=int(precision[1:] or 0) if precision else None,
                argument=int(match.group("index")) if match.group("index") else None,
                mode=match.group("mode"),
            )
        )
        position = match.end()
    literal.append(spec[position:])
    parts.append("".join(literal))
    return tuple(part for part in parts if part != "")


def _sprintf(spec: str, args: Sequence[Value]) -> str:
    out = []
    next_arg = 1
    highest = 0
    for part in _parse_format(spec):
        if isinstance(part, str):
            out.append(part)
            continue
        number = part.argument or next_arg
        if number > len(args):
            raise _Failure(
                f'not enough arguments for "{part.raw}" at {part.offset}: '
                f"need index {number} but have {len(args)} total"
            )
        out.append(_format_verb(part, args[number - 1]))
        highest = max(highest, number)
        next_arg = number + 1
    if highest < len(args):
        # cty treats unused arguments as a mistake.
        if highest == 0:
            raise _Failure("too many arguments; no verbs in format string", arg=1)
        raise _Failure(f"too many arguments; only {highest} used by format string", arg=highest + 1)
    return "".join(out)


def _format_verb(verb: _Verb, value: Value) -> str:
    mode = verb.mode
    if value is None and mode != "v":
        raise _Failure(
            f'unsupported value for "{verb.raw}" at {verb.offset}: null value cannot be formatted'
        )
    if mode == "v":
        if "#" not in verb.flags and isinstance(value, str):
            return _pad(verb, value)
        if "#" not in verb.flags and is_number(value):
            return _pad(verb, _float_text(_exact(value), "g", None))
        return _pad(verb, _json_encode(value))
    if mode == "t":
        return "true" if _verb_argument(verb, value, BOOL) else "false"
    if mode in "bdoxX":
        return _format_integer(verb, _verb_argument(verb, value, NUMBER))
    if mode in "eEfgG":
        return _format_float(verb, _verb_argument(verb, value, NUMBER))
    if mode in "sq":
        text = _verb_argument(verb, value, STRING)
        if verb.precision:
            text = "".join(_graphemes(text)[: verb.precision])
        return _pad(verb, _json_string(text) if mode == "q" else text)
    raise _Failure(f"unsupported format verb '{mode}' in \"{verb.raw}\" at offset {verb.offset}")


def _verb_argument(verb: _Verb, value: Value, spec: TypeSpec) -> Value:
    try:
        return convert(value, spec)
    except ConversionError as err:
        raise _Failure(
            f'unsupported value for "{verb.raw}" at {verb.offset}: {err.message}'
        ) from None


def _pad(verb: _Verb, text: str) -> str:
    if verb.width is None:
        return text
    missing = verb.width - _length(text)
    if missing <= 0:
        return text
    padding = ("0" if "0" in verb.flags else " ") * missing
    return text + padding if "-" in verb.flags else padding + text


def _format_integer(verb: _Verb, number: Number) -> str:
    """Go's fmt for a big.Int: [spaces][sign][0x][zeros][digits][spaces]."""
    if isinstance(number, float) and not number.is_integer():
        raise _Failure(
            f'unsupported value for "{verb.raw}" at {verb.offset}: an integer is required'
        )
    value = int(number)
    flags = verb.flags
    digits = format(abs(value), {"b": "b", "d": "d", "o": "o", "x": "x", "X": "X"}[verb.mode])
    sign = "-" if value < 0 else "+" if "+" in flags else " " if " " in flags else ""
    prefix = {"b": "0b", "o": "0", "x": "0x", "X": "0X"}.get(verb.mode, "") if "#" in flags else ""
    zeros = 0
    if verb.precision is not None:
        if verb.precision == 0 and value == 0:
            return ""
        zeros = max(verb.precision - len(digits), 0)
    left = right = 0
    size = len(sign) + len(prefix) + zeros + len(digits)
    if verb.width is not None and size < verb.width:
        extra = verb.width - size
        if "-" in flags:
            right = extra
        elif "0" in flags and verb.precision is None:
            zeros += extra
        else:
            left = extra
    return " " * left + sign + prefix + "0" * zeros + digits + " " * right


def _format_float(verb: _Verb, number: Number) -> str:
    """Go's fmt for a big.Float: %e and %f default to 6 decimals, %g to the shortest form."""
    exact = _exact(number)
    precision = verb.precision
    if precision is None and verb.mode in "eEf":
        precision = 6
    body = _float_text(abs(exact), verb.mode, precision)
    flags = verb.flags
    sign = "-" if exact.is_signed() else "+" if "+" in flags else " " if " " in flags else ""
    padding = max((verb.width or 0) - len(sign) - len(body), 0)
    if "0" in flags:
        return sign + "0" * padding + body
    if "-" in flags:
        return sign + body + " " * padding
    return " " * padding + sign + body


def _float_text(number: Decimal, mode: str, precision: int | None) -> str:
    """A decimal as Go's big.Float.Text formats it (sign included when negative)."""
    lower = mode.lower()
    if lower == "f":
        return format(number, f".{precision}f")
    if lower == "e":
        if number == 0:
            text = "0" + ("." + "0" * precision if precision else "") + "e+00"
        else:
            text = _two_digit_exponent(format(number, f".{precision}e"))
        return text.upper() if mode == "E" else text
    # %g: round to the precision (or take the shortest form), drop trailing zeros, and use
    # the exponent form when the exponent is below -4 or at least the precision (6 for the
    # shortest form).
    if number == 0:
        return "0"
    if precision is not None:
        digits_wanted = max(precision, 1)
        with localcontext() as context:
            context.prec = digits_wanted
            context.rounding = ROUND_HALF_EVEN
            number = +number
    sign, digit_tuple, exponent = number.normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + int(exponent) - 1
    limit = 6 if precision is None else max(precision, 1)
    if point < -4 or point >= limit:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        text = f"{'-' if sign else ''}{mantissa}e{'-' if point < 0 else '+'}{abs(point):02d}"
        return text.upper() if mode == "G" else text
    return format(number.normalize(), "f")


def _two_digit_exponent(text: str) -> str:
    mantissa, _, exponent = text.partition("e")
    return f"{mantissa}e{exponent[0]}{exponent[1:].zfill(2)}"


@_function("format", Param("format", _string), Param("args", nullable=True), variadic=True)
def _format(ctx: FunctionContext, spec: str, *args: Value) -> str:
    return _sprintf(spec, args)


@_function(
    "formatlist",
    Param("format", _string),
    Param("args", nullable=True),
    variadic=True,
    unknowns="shallow",
)
def _formatlist(ctx: FunctionContext, spec: str, *args: Value) -> list[Value]:
    length = None
    first_list = 0
    for index, arg in enumerate(args):
        if isinstance(arg, list):
            if length is None:
                length, first_list = len(arg), index
            elif len(arg) != length:
                raise _Failure(
                    f"argument {index + 1} has length {len(arg)}, which is inconsistent with "
                    f"argument {first_list + 1} of length {length}",
                    arg=index + 1,
                )
    results: list[Value] = []
    for row in range(1 if length is None else length):
        row_args = [arg[row] if isinstance(arg, list) else arg for arg in args]
        # One unknown argument makes its own row unknown, not the others.
        if all(is_wholly_known(arg) for arg in row_args):
            results.append(_sprintf(spec, row_args))
        else:
            results.append(Unknown())
    return results


# --- collections ---------------------------------------------------------------------------------


@_function("length", Param("value"), unknowns="shallow")
def _length_of(ctx: FunctionContext, value: Value) -> int:
    if isinstance(value, str):
        return _length(value)
    if isinstance(value, (list, dict)):
        return len(value)
    raise _Failure("argument must be a string, a collection type, or a structural type", arg=0)


@_function("coalesce", Param("vals", nullable=True), variadic=True, required=1, unknowns="handles")
def _coalesce(ctx: FunctionContext, *values: Value) -> Value:
    common = unify([infer_type(value) for value in values])
    if common is None:
        raise _Failure("all arguments must have the same type")
    for value in values:
        if isinstance(value, Unknown):
            return Unknown()
        if value is None:
            continue
        value = convert(value, common)
        if common.kind == "string" and value == "":
            continue
        return value
    raise _Failure("no non-null, non-empty-string arguments")


@_function(
    "coalescelist", Param("vals", nullable=True), variadic=True, required=1, unknowns="handles"
)
def _coalescelist(ctx: FunctionContext, *values: Value) -> Value:
    for value in values:
        if isinstance(value, Unknown):
            return Unknown()
        if value is None:
            continue
        if not isinstance(value, list):
            raise _Failure("coalescelist arguments must be lists or tuples")
        if value:
            return value
    raise _Failure("no non-null arguments")


@_function(
    "lookup",
    Param("inputMap", _mapping),
    Param("key", _string),
    Param("default", nullable=True),
    required=2,
    unknowns="handles",
)
def _lookup(ctx: FunctionContext, mapping: Value, key: Value, *default: Value) -> Value:
    if isinstance(mapping, Unknown) or isinstance(key, Unknown):
        return Unknown()
    if key in mapping:
        return mapping[key]
    if default:
        return default[0]
    raise _Failure(f"lookup failed to find key {render(key)}")


@_function("merge", Param("maps", nullable=True), variadic=True, unknowns="shallow")
def _merge(ctx: FunctionContext, *maps: Value) -> dict[str, Value]:
    merged: dict[str, Value] = {}
    for index, mapping in enumerate(maps):
        if mapping is None:
            continue
        if not isinstance(mapping, dict):
            raise _Failure(
                f"arguments must be maps or objects, got {describe_value(mapping)}", arg=index
            )
        merged.update(mapping)
    return merged


@_function("concat", Param("seqs", _sequence), variadic=True, required=1, unknowns="shallow")
def _concat(ctx: FunctionContext, *lists: list[Value]) -> list[Value]:
    return [item for items in lists for item in items]


@_function("contains", Param("list", _sequence), Param("value", nullable=True), unknowns="shallow")
def _contains(ctx: FunctionContext, items: list[Value], value: Value) -> Value:
    if not items:
        return False
    if not is_wholly_known(value):
        return Unknown()
    key = value_key(value)
    unknown = False
    for item in items:
        if not is_wholly_known(item):
            unknown = True
        elif value_key(item) == key:
            return True
    return Unknown() if unknown else False


@_function("keys", Param("inputMap", _mapping), unknowns="shallow")
def _keys(ctx: FunctionContext, mapping: dict[str, Value]) -> list[str]:
    return sorted(mapping)


@_function("values", Param("mapping", _mapping), unknowns="shallow")
def _values(ctx: FunctionContext, mapping: dict[str, Value]) -> list[Value]:
    return [mapping[key] for key in sorted(mapping)]


@_function("element", Param("list", _sequence), Param("index", _whole), unknowns="shallow")
def _element(ctx: FunctionContext, items: list[Value], index: int) -> Value:
    if not items:
        raise _Failure("cannot use element function with an empty list")
    # Wraps around in both directions: Python's % already gives Go's adjusted remainder.
    return items[index % len(items)]


@_function("index", Param("list", _sequence), Param("value"))
def _index(ctx: FunctionContext, items: list[Value], value: Value) -> int:
    if not items:
        raise _Failure("cannot search an empty list")
    key = value_key(value)
    for position, item in enumerate(items):
        if value_key(item) == key:
            return position
    raise _Failure("item not found")


@_function(
    "slice",
    Param("list", _sequence),
    Param("start_index", _whole),
    Param("end_index", _whole),
    unknowns="shallow",
)
def _slice(ctx: FunctionContext, items: list[Value], start: int, end: int) -> list[Value]:
    for arg, index, what in ((1, start, "start"), (2, end, "end")):
        if index < 0:
            raise _Failure(f"{what} index must not be less than zero", arg=arg)
        if index > len(items):
            raise _Failure(f"{what} index must not be greater than the length of the list", arg=arg)
    if start > end:
        raise _Failure("start index must not be greater than end index", arg=1)
    return items[start:end]


@_function("reverse", Param("list", _sequence), unknowns="shallow")
def _reverse(ctx: FunctionContext, items: list[Value]) -> list[Value]:
    return items[::-1]


@_function("flatten", Param("list", _sequence), unknowns="shallow")
def _flatten(ctx: FunctionContext, items: list[Value]) -> Value:
    flat: list[Value] = []
    # An unknown element could be a list, so the result's shape is unknown.
    return flat if _flatten_into(items, flat) else Unknown()


def _flatten_into(items: list[Value], flat: list[Value]) -> bool:
    for item in items:
        if isinstance(item, Unknown):
            return False
        if isinstance(item, list):
            if not _flatten_into(item, flat):
                return False
        else:
            flat.append(item)
    return True


@_function("distinct", Param("list", _sequence))
def _distinct(ctx: FunctionContext, items: list[Value]) -> list[Value]:
    unique: dict[Hashable, Value] = {}
    for item in items:
        unique.setdefault(value_key(item), item)
    return list(unique.values())


@_function("sort", Param("list", _strings))
def _sort(ctx: FunctionContext, items: list[str | None]) -> list[str]:
    strings: list[str] = []
    for index, item in enumerate(items):
        if item is None:
            raise _Failure(f"given list element {index} is null; a null string cannot be sorted")
        strings.append(item)
    return sorted(strings)


@_function("compact", Param("list", _strings))
def _compact(ctx: FunctionContext, items: list[str | None]) -> list[str]:
    return [item for item in items if item]


@_function("zipmap", Param("keys", _strings), Param("values", _sequence), unknowns="shallow")
def _zipmap(ctx: FunctionContext, keys: list[Value], values: list[Value]) -> Value:
    if not is_wholly_known(keys):
        return Unknown()
    if len(keys) != len(values):
        raise _Failure(
            f"number of keys ({len(keys)}) does not match number of values ({len(values)})"
        )
    for index, key in enumerate(keys):
        if key is None:
            raise _Failure(f"keys list has null value at index {index}", arg=0)
    return dict(zip(keys, values, strict=True))


@_function("one", Param("list", _sequence), unknowns="shallow")
def _one(ctx: FunctionContext, items: list[Value]) -> Value:
    if len(items) > 1:
        raise _Failure(
            "must be a list, set, or tuple value with either zero or one elements", arg=0
        )
    return items[0] if items else None


@_function("chunklist", Param("list", _sequence), Param("size", _whole), unknowns="shallow")
def _chunklist(ctx: FunctionContext, items: list[Value], size: int) -> list[list[Value]]:
    if size < 0:
        raise _Failure("the size argument must be positive", arg=1)
    if not items:
        return []
    if size == 0:
        return [items]
    return [items[start : start + size] for start in range(0, len(items), size)]


@_function("transpose", Param("values", _mapping))
def _transpose(ctx: FunctionContext, mapping: dict[str, Value]) -> dict[str, list[str]]:
    lists = convert(mapping, map_of(_STRINGS))
    result: dict[str, list[str]] = {}
    for key in sorted(lists):
        if lists[key] is None:
            raise _Failure("input must not contain null list")
        for item in lists[key]:
            if item is None:
                raise _Failure("input list must not contain null string")
            result.setdefault(item, []).append(key)
    return {key: result[key] for key in sorted(result)}


@_function(
    "matchkeys",
    Param("values", _sequence),
    Param("keys", _sequence),
    Param("searchset", _sequence),
)
def _matchkeys(
    ctx: FunctionContext, values: list[Value], keys: list[Value], search: list[Value]
) -> list[Value]:
    if len(values) != len(keys):
        raise _Failure("length of keys and values should be equal")
    # keys and searchset must share one element type; converting them together finds it.
    try:
        combined = convert(keys + search, list_of(ANY))
    except ConversionError:
        raise _Failure("keys and searchset must be of the same type") from None
    wanted = {value_key(item) for item in combined[len(keys) :]}
    return [value for value, key in zip(values, combined, strict=False) if value_key(key) in wanted]


def _unified_sets(sets: Sequence[list[Value]]) -> list[list[Value]]:
    """The sets' elements converted to the one element type they share."""
    combined = convert([item for items in sets for item in items], list_of(ANY))
    out = []
    start = 0
    for items in sets:
        out.append(combined[start : start + len(items)])
        start += len(items)
    return out


@_function("setunion", Param("first_set", _sequence), Param("other_sets", _sequence), variadic=True)
def _setunion(ctx: FunctionContext, *sets: list[Value]) -> Value:
    return convert([item for items in sets for item in items], set_of(ANY))


@_function(
    "setintersection", Param("first_set", _sequence), Param("other_sets", _sequence), variadic=True
)
def _setintersection(ctx: FunctionContext, *sets: list[Value]) -> Value:
    first, *others = _unified_sets(sets)
    shared = [{value_key(item) for item in items} for items in others]
    return convert(
        [item for item in first if all(value_key(item) in keys for keys in shared)], set_of(ANY)
    )


@_function("setsubtract", Param("a", _sequence), Param("b", _sequence))
def _setsubtract(ctx: FunctionContext, a: list[Value], b: list[Value]) -> Value:
    kept, removed = _unified_sets([a, b])
    removed_keys = {value_key(item) for item in removed}
    return convert([item for item in kept if value_key(item) not in removed_keys], set_of(ANY))


@_function("alltrue", Param("list", _bools), unknowns="shallow")
def _alltrue(ctx: FunctionContext, items: list[Value]) -> Value:
    for item in items:
        if isinstance(item, Unknown):
            return Unknown()
        if not item:
            return False
    return True


@_function("anytrue", Param("list", _bools), unknowns="shallow")
def _anytrue(ctx: FunctionContext, items: list[Value]) -> Value:
    if any(item is True for item in items):
        return True
    return Unknown() if any(isinstance(item, Unknown) for item in items) else False


@_function("sum", Param("list", _sequence))
def _sum(ctx: FunctionContext, items: list[Value]) -> Number:
    if not items:
        raise _Failure("cannot sum an empty list", arg=0)
    numbers = []
    for item in items:
        if item is None:
            raise _Failure("argument must be list, set, or tuple of number values", arg=0)
        try:
            numbers.append(_number(item))
        except ConversionError:
            raise _Failure("argument must be list, set, or tuple of number values", arg=0) from None
    if all(isinstance(number, int) for number in numbers):
        return sum(numbers)
    # Decimal keeps 0.1 + 0.2 at 0.3, as Terraform's big floats do.
    with localcontext() as context:
        context.prec = 60
        return _from_exact(sum((_exact(number) for number in numbers), Decimal(0)))


# --- numbers -------------------------------------------------------------------------------------


@_function("min", Param("numbers", _number), variadic=True)
def _min(ctx: FunctionContext, *numbers: Number) -> Number:
    if not numbers:
        raise _Failure("must pass at least one number")
    return normalize_number(min(numbers))


@_function("max", Param("numbers", _number), variadic=True)
def _max(ctx: FunctionContext, *numbers: Number) -> Number:
    if not numbers:
        raise _Failure("must pass at least one number")
    return normalize_number(max(numbers))


@_function("abs", Param("num", _number))
def _abs(ctx: FunctionContext, number: Number) -> Number:
    return abs(number)


@_function("ceil", Param("num", _number))
def _ceil(ctx: FunctionContext, number: Number) -> Number:
    return number if isinstance(number, int) or math.isinf(number) else math.ceil(number)


@_function("floor", Param("num", _number))
def _floor(ctx: FunctionContext, number: Number) -> Number:
    return number if isinstance(number, int) or math.isinf(number) else math.floor(number)


@_function("signum", Param("num", _whole))
def _signum(ctx: FunctionContext, number: int) -> int:
    # cty converts the argument to a Go int first, so a fraction is an error there too.
    return (number > 0) - (number < 0)


@_function("pow", Param("num", _number), Param("power", _number))
def _pow(ctx: FunctionContext, base: Number, power: Number) -> Number:
    try:
        result = math.pow(base, power)
    except OverflowError:
        result = math.inf
    except ValueError:
        raise _Failure("result is not a number") from None
    return normalize_number(result)


def _go_log(number: float) -> float:
    """Go's math.Log: -Inf at zero and NaN below, where Python's raises."""
    if number > 0:
        return math.log(number)
    return -math.inf if number == 0 else math.nan


@_function("log", Param("num", _number), Param("base", _number))
def _log(ctx: FunctionContext, number: Number, base: Number) -> Number:
    numerator, denominator = _go_log(number), _go_log(base)
    if denominator == 0:
        result = (
            math.nan
            if numerator == 0 or math.isnan(numerator)
            else math.copysign(math.inf, numerator)
        )
    else:
        result = numerator / denominator
    if math.isnan(result):
        raise _Failure("result is not a number")
    return normalize_number(result)


def _strict_string(value: Value) -> str:
    if not isinstance(value, str):
        raise ConversionError(f"first argument must be a string, not {describe_value(value)}")
    return value


def _digit(char: str, base: int) -> int:
    """A digit's value as Go's big.Int reads it: letters are case-blind up to base 36, then
    a-z are 10-35 and A-Z 36-61. -1 for no digit."""
    if "0" <= char <= "9":
        return ord(char) - ord("0")
    if "a" <= char <= "z":
        return ord(char) - ord("a") + 10
    if "A" <= char <= "Z":
        return ord(char) - ord("A") + (10 if base <= 36 else 36)
    return -1


@_function("parseint", Param("number", _strict_string), Param("base", _whole))
def _parseint(ctx: FunctionContext, text: str, base: int) -> int:
    if not 2 <= base <= 62:
        raise _Failure("base must be a whole number between 2 and 62 inclusive", arg=1)
    # By hand, since int() also takes underscores, spaces and 0x prefixes.
    digits = text[1:] if text[:1] in ("+", "-") else text
    value = 0
    for char in digits:
        digit = _digit(char, base)
        if not 0 <= digit < base:
            raise _Failure(f"cannot parse {render(text)} as a base {base} integer", arg=0)
        value = value * base + digit
    if not digits:
        raise _Failure(f"cannot parse {render(text)} as a base {base} integer", arg=0)
    return -value if text.startswith("-") else value


@_function(
    "range", Param("start", _number), Param("limit", _number), Param("step", _number), required=1
)
def _range(ctx: FunctionContext, *args: Number) -> list[Number]:
    start: Number
    limit: Number
    step: Number
    if len(args) == 1:
        start, limit, step = 0, args[0], (-1 if args[0] < 0 else 1)
    elif len(args) == 2:
        start, limit, step = args[0], args[1], (-1 if args[1] < args[0] else 1)
    else:
        start, limit, step = args
    if step == 0:
        raise _Failure("step must not be zero", arg=2)
    if step < 0 and limit > start:
        raise _Failure("end must be less than start when step is negative", arg=1)
    if step > 0 and limit < start:
        raise _Failure("end must be greater than start when step is positive", arg=1)
    # Exact decimals, so range(0, 1, 0.1) steps by exactly 0.1 as Terraform's big floats do.
    current, end, increment = _exact(start), _exact(limit), _exact(step)
    values: list[Number] = []
    while (current < end) if increment > 0 else (current > end):
        if len(values) >= 1024:
            raise _Failure(
                "more than 1024 values were generated; either decrease the difference between "
                "start and end or use a smaller step"
            )
        values.append(_from_exact(current))
        current += increment
    return values


# --- type conversions ----------------------------------------------------------------------------


def _make_conversion(spec: TypeSpec) -> Callable[[FunctionContext, Value], Value]:
    def conversion(ctx: FunctionContext, value: Value) -> Value:
        try:
            return convert(value, spec)
        except ConversionError as err:
            if isinstance(value, str) and spec is NUMBER:
                message = (
                    f"cannot convert {render(value)} to number; given string must be a "
                    "decimal representation of a number"
                )
            elif isinstance(value, str) and spec is BOOL:
                message = f'cannot convert {render(value)} to bool; only the strings "true" or "false" are allowed'
            else:
                message = err.message
            raise _Failure(message, arg=0) from None

    return conversion


for _name, _spec in (
    ("tostring", STRING),
    ("tonumber", NUMBER),
    ("tobool", BOOL),
    ("tolist", list_of(ANY)),
    ("toset", set_of(ANY)),
    ("tomap", map_of(ANY)),
):
    _function(_name, Param("v", nullable=True), unknowns="shallow")(_make_conversion(_spec))


# --- encoding ------------------------------------------------------------------------------------

# Go's encoding/json escapes these for safe embedding in HTML; Terraform's output keeps that.
_JSON_HTML_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def _json_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).translate(_JSON_HTML_ESCAPES)


def _json_encode(value: Value) -> str:
    """Terraform's jsonencode: compact, keys sorted, numbers never in exponent form."""
    if isinstance(value, str):
        return _json_string(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        number = normalize_number(value)
        if isinstance(number, int):
            return str(number)
        if not math.isfinite(number):
            raise _Failure("cannot serialize infinity as JSON")
        return format(_exact(number), "f")
    if isinstance(value, list):
        return "[" + ",".join(_json_encode(item) for item in value) + "]"
    return (
        "{"
        + ",".join(f"{_json_string(key)}:{_json_encode(value[key])}" for key in sorted(value))
        + "}"
    )


def _json_constant(name: str) -> Value:
    raise _Failure(f"invalid JSON: {name} is not a JSON value", arg=0)


@_function("jsonencode", Param("val", nullable=True))
def _jsonencode(ctx: FunctionContext, value: Value) -> str:
    return _json_encode(value)


@_function("jsondecode", Param("str", _string))
def _jsondecode(ctx: FunctionContext, text: str) -> Value:
    try:
        return json.loads(text, parse_float=parse_number, parse_constant=_json_constant)
    except json.JSONDecodeError as err:
        raise _Failure(
            f"invalid JSON: {err.msg} at line {err.lineno}, column {err.colno}", arg=0
        ) from None
    except RecursionError:
        raise _Failure("invalid JSON: nested too deeply", arg=0) from None


@_function("urlencode", Param("str", _string))
def _urlencode(ctx: FunctionContext, text: str) -> str:
    # Go's url.QueryEscape: space becomes "+", everything but A-Za-z0-9-_.~ is %-escaped.
    return urllib.parse.quote_plus(text, safe="")


@_function("base64encode", Param("str", _string))
def _base64encode(ctx: FunctionContext, text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")


@_function("base64decode", Param("str", _string))
def _base64decode(ctx: FunctionContext, text: str) -> str:
    try:
        # Go's decoder skips line breaks but insists on padding, as validate=True does.
        data = base64.b64decode(text.replace("\r", "").replace("\n", ""), validate=True)
    except ValueError:
        raise _Failure(f"failed to decode base64 data {render(text)}", arg=0) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _Failure("the result of decoding the provided string is not valid UTF-8") from None


# The gzip header Go's gzip.Writer writes: no file name, no time, "unknown" operating system.
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


@_function("base64gzip", Param("str", _string))
def _base64gzip(ctx: FunctionContext, text: str) -> str:
    # Valid gzip that decompresses to the same text; the deflate bytes may differ from Go's.
    data = text.encode()
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = compressor.compress(data) + compressor.flush()
    trailer = struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
    return base64.b64encode(_GZIP_HEADER + body + trailer).decode("ascii")


def _text_hash(
    algorithm: str, encode: Callable[[bytes], str]
) -> Callable[[FunctionContext, str], str]:
    def digest(ctx: FunctionContext, text: str) -> str:
        return encode(hashlib.new(algorithm, text.encode()).digest())

    return digest


def _file_hash(
    algorithm: str, encode: Callable[[bytes], str]
) -> Callable[[FunctionContext, str], str]:
    def digest(ctx: FunctionContext, path: str) -> str:
        return encode(hashlib.new(algorithm, _read(ctx, path, ctx.read_bytes)).digest())

    return digest


def _hex(digest: bytes) -> str:
    return digest.hex()


def _base64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


for _algorithm in ("md5", "sha1", "sha256", "sha512"):
    _function(_algorithm, Param("str", _string))(_text_hash(_algorithm, _hex))
    _function(f"file{_algorithm}", Param("path", _string))(_file_hash(_algorithm, _hex))
for _algorithm in ("sha256", "sha512"):
    _function(f"base64{_algorithm}", Param("str", _string))(_text_hash(_algorithm, _base64))
    _function(f"filebase64{_algorithm}", Param("path", _string))(_file_hash(_algorithm, _base64))


# Not known before apply: Terraform itself leaves these unknown during planning.
@_function("uuid", unknowns="handles")
def _uuid(ctx: FunctionContext) -> Value:
    return Unknown()


@_function("timestamp", unknowns="handles")
def _timestamp(ctx: FunctionContext) -> Value:
    return Unknown()


# Marks are not modelled, so these pass their value through.
@_function("sensitive", Param("value", nullable=True), unknowns="handles")
def _sensitive(ctx: FunctionContext, value: Value) -> Value:
    return value


@_function("nonsensitive", Param("value", nullable=True), unknowns="handles")
def _nonsensitive(ctx: FunctionContext, value: Value) -> Value:
    return value


# --- time ----------------------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:Z|([+-])([0-9]{2}):([0-9]{2}))"
)
_DURATION_PART = re.compile(r"([0-9]*\.?[0-9]*)(ns|us|µs|μs|ms|s|m|h)")
_NANOSECONDS = {
    "ns": 1,
    "us": 10**3,
    "µs": 10**3,
    "μs": 10**3,
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _parse_timestamp(text: str, arg: int) -> tuple[datetime, int]:
    """An RFC 3339 timestamp as a datetime to the second and the nanoseconds past it."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise _Failure(f"not a valid RFC3339 timestamp: {render(text)}", arg=arg)
    year, month, day, hour, minute, second, fraction, sign, zone_hours, zone_minutes = (
        match.groups()
    )
    offset = timedelta(0)
    if sign:
        offset = timedelta(hours=int(zone_hours), minutes=int(zone_minutes))
        offset = -offset if sign == "-" else offset
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=timezone(offset),
        )
    except ValueError as err:
        raise _Failure(f"not a valid RFC3339 timestamp: {err}", arg=arg) from None
    return moment, int((fraction or "").ljust(9, "0")[:9])


def _parse_duration(text: str) -> int:
    """A Go duration ("1h30m", "-1.5h", "300ms") in nanoseconds."""
    sign = -1 if text.startswith("-") else 1
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body:
        raise _Failure(f'time: invalid duration "{text}"', arg=1)
    if body == "0":
        return 0
    total = Fraction(0)
    position = 0
    while position < len(body):
        part = _DURATION_PART.match(body, position)
        if part is None or part.group(1) in ("", "."):
            raise _Failure(f'time: invalid duration "{text}"', arg=1)
        total += Fraction(part.group(1)) * _NANOSECONDS[part.group(2)]
        position = part.end()
    return sign * int(total)


def _offset_text(moment: datetime, colon: bool) -> str:
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}{':' if colon else ''}{minutes:02d}"


def _rfc3339(moment: datetime) -> str:
    zone = "Z" if not moment.utcoffset() else _offset_text(moment, colon=True)
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}{zone}"
    )


@_function("timeadd", Param("timestamp", _string), Param("duration", _string))
def _timeadd(ctx: FunctionContext, timestamp: str, duration: str) -> str:
    moment, nanoseconds = _parse_timestamp(timestamp, arg=0)
    seconds = (nanoseconds + _parse_duration(duration)) // 10**9
    try:
        return _rfc3339(moment + timedelta(seconds=seconds))
    except OverflowError:
        raise _Failure("the resulting time is out of range") from None


_DATE_TOKENS = re.compile(r"''|'((?:[^']|'')*)'|'.*|([A-Za-z])\2*|[^A-Za-z']+", re.DOTALL)


def _date_verb(token: str, moment: datetime) -> str:
    """One formatdate verb, such as YYYY or hh, for ``moment``."""
    letter, size = token[0], len(token)
    hour12 = moment.hour % 12 or 12
    forms: dict[str, dict[int, str]] = {
        "Y": {2: f"{moment.year % 100:02d}", 4: f"{moment.year:04d}"},
        "M": {
            1: str(moment.month),
            2: f"{moment.month:02d}",
            3: _MONTHS[moment.month - 1][:3],
            4: _MONTHS[moment.month - 1],
        },
        "D": {1: str(moment.day), 2: f"{moment.day:02d}"},
        "E": {3: _WEEKDAYS[moment.weekday()][:3], 4: _WEEKDAYS[moment.weekday()]},
        "h": {1: str(moment.hour), 2: f"{moment.hour:02d}"},
        "H": {1: str(hour12), 2: f"{hour12:02d}"},
        "A": {2: "AM" if moment.hour < 12 else "PM"},
        "a": {2: "am" if moment.hour < 12 else "pm"},
        "m": {1: str(moment.minute), 2: f"{moment.minute:02d}"},
        "s": {1: str(moment.second), 2: f"{moment.second:02d}"},
        "Z": {
            1: "Z" if not moment.utcoffset() else _offset_text(moment, colon=True),
            3: "UTC" if not moment.utcoffset() else _offset_text(moment, colon=False),
            4: _offset_text(moment, colon=False),
            5: _offset_text(moment, colon=True),
        },
    }
    text = forms.get(letter, {}).get(size)
    if text is None:
        raise _Failure(f"invalid date format verb {render(token)}", arg=0)
    return text


@_function("formatdate", Param("format", _string), Param("time", _string))
def _formatdate(ctx: FunctionContext, spec: str, timestamp: str) -> str:
    moment, _ = _parse_timestamp(timestamp, arg=1)
    out = []
    for token in _DATE_TOKENS.finditer(spec):
        text = token.group(0)
        if text == "''":
            out.append("'")
        elif token.group(1) is not None:
            out.append(token.group(1).replace("''", "'"))
        elif text.startswith("'"):
            raise _Failure("unterminated literal '", arg=0)
        elif token.group(2):
            out.append(_date_verb(text, moment))
        else:
            out.append(text)
    return "".join(out)


# --- file system ---------------------------------------------------------------------------------


def _go_clean(path: str) -> str:
    """Go's path.Clean: the shortest equivalent path, resolving . and .. lexically."""
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    joined = "/".join(parts)
    return "/" + joined if rooted else joined or "."


def _expand_home(path: str) -> str:
    if not path.startswith("~"):
        return path
    if len(path) > 1 and path[1] not in "/\\":
        raise _Failure("cannot expand user-specific home dir", arg=0)
    return _go_clean(os.path.expanduser("~") + "/" + path[1:])


def _resolve(ctx: FunctionContext, path: str) -> Path:
    return ctx.base_dir / _expand_home(path)


_T = TypeVar("_T")


def _read(ctx: FunctionContext, path: str, reader: Callable[[Path], _T]) -> _T:
    try:
        return reader(_resolve(ctx, path))
    except FileNotFoundError:
        raise _Failure(
            f"no file exists at {render(path)}; this function works only with files that are "
            "distributed as part of the configuration source code, so if this file will be "
            "created by a resource in this configuration you must instead obtain this result "
            "from an attribute of that resource",
            arg=0,
        ) from None
    except UnicodeDecodeError:
        raise _Failure(
            f"contents of {render(path)} are not valid UTF-8; use the filebase64 function to "
            "obtain the Base64 encoded contents or the other file functions (e.g. filemd5, "
            "filesha256) to obtain file hashing results instead",
            arg=0,
        ) from None
    except OSError as err:
        raise _Failure(
            f"failed to read file {render(path)}: {err.strerror or err}", arg=0
        ) from None


@_function("file", Param("path", _string))
def _file(ctx: FunctionContext, path: str) -> str:
    return _read(ctx, path, ctx.read_text)


@_function("filebase64", Param("path", _string))
def _filebase64(ctx: FunctionContext, path: str) -> str:
    return _base64(_read(ctx, path, ctx.read_bytes))


@_function("fileexists", Param("path", _string))
def _fileexists(ctx: FunctionContext, path: str) -> bool:
    resolved = _resolve(ctx, path)
    if ctx.files.is_file(resolved):
        return True
    if ctx.files.is_dir(resolved):
        raise _Failure(f"{render(path)} is a directory, not a file", arg=0)
    return False


@_function("fileset", Param("path", _string), Param("pattern", _string))
def _fileset(ctx: FunctionContext, path: str, pattern: str) -> list[str]:
    matcher = _glob(pattern)
    return [name for name in ctx.files.walk_files(_resolve(ctx, path)) if matcher.fullmatch(name)]


@lru_cache(maxsize=64)
def _glob(pattern: str) -> re.Pattern[str]:
    """A doublestar glob (``*``, ``**``, ``?``, ``[…]``, ``{a,b}``) as a regular expression."""
    segments = _go_clean(pattern).split("/")
    out = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            out.append(".*" if last else "(?:.*/)?")
        else:
            out.append(_glob_segment(segment) + ("" if last else "/"))
    return re.compile("".join(out), re.DOTALL)


def _glob_segment(segment: str) -> str:
    """One path segment of a glob; a "[" or "{" without its closer is literal."""
    out = []
    i = 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\" and i + 1 < len(segment):
            i += 1
            out.append(re.escape(segment[i]))
        elif char == "[" and (close := segment.find("]", i + 2)) > 0:
            body = segment[i + 1 : close]
            negate = body[:1] in ("!", "^")
            body = re.sub(r"([\\\[&~|])", r"\\\1", body[1:] if negate else body)
            out.append("[" + ("^" if negate else "") + body + "]")
            i = close
        elif char == "{" and (close := segment.find("}", i + 1)) > 0:
            choices = segment[i + 1 : close].split(",")
            out.append("(?:" + "|".join(_glob_segment(choice) for choice in choices) + ")")
            i = close
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


@_function("basename", Param("path", _string))
def _basename(ctx: FunctionContext, path: str) -> str:
    if not path:
        return "."
    trimmed = path.rstrip("/")
    return trimmed.rsplit("/", 1)[-1] if trimmed else "/"


@_function("dirname", Param("path", _string))
def _dirname(ctx: FunctionContext, path: str) -> str:
    return _go_clean(path[: path.rfind("/") + 1])


@_function("abspath", Param("path", _string))
def _abspath(ctx: FunctionContext, path: str) -> str:
    # Like Terraform, relative to the working directory, not the module.
    return _go_clean(path if path.startswith("/") else os.getcwd() + "/" + path)


@_function("pathexpand", Param("path", _string))
def _pathexpand(ctx: FunctionContext, path: str) -> str:
    return _expand_home(path)


_IDENTIFIER = re.compile(r"[^\W\d][\w-]*")


@_function("templatefile", Param("path", _string), Param("vars"), unknowns="shallow")
def _templatefile(ctx: FunctionContext, path: str, variables: Value) -> Value:
    if not isinstance(variables, dict):
        raise _Failure("invalid vars value: must be a map", arg=1)
    for name in variables:
        if not _IDENTIFIER.fullmatch(name):
            raise _Failure(
                f"invalid template variable name {render(name)}: must start with a letter, "
                "followed by zero or more letters, digits, and underscores",
                arg=1,
            )
    text = _read(ctx, path, ctx.read_text)
    # The resolved path, so the evaluator's messages point into the template file.
    return ctx.render_template(text, variables, str(_resolve(ctx, path)))
