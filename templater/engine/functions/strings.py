"""String functions: case, trimming, splitting and joining, substrings, regex and regexall (RE2
syntax, rewritten where Python's re reads it differently), format and formatlist (cty's verbs),
and templatestring.

Strings are counted, sliced and padded by grapheme cluster (the core's ``graphemes``); case and
white space are as Go's strings and unicode packages see them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from functools import lru_cache
from typing import NamedTuple

from templater.engine.functions.library import (
    Failure,
    FunctionContext,
    Param,
    as_decimal,
    as_string,
    as_strings,
    as_whole,
    check_template_vars,
    grapheme_count,
    graphemes,
    json_encode,
    json_string,
    register,
)
from templater.engine.types import BOOL, NUMBER, STRING, ConversionError, TypeSpec, convert
from templater.engine.values import Number, Unknown, Value, is_number, is_wholly_known, render

# --- unicode text as Go reads it -----------------------------------------------------------------


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


@register("upper", Param("str", as_string))
def _upper(ctx: FunctionContext, text: str) -> str:
    return _go_map(text, str.upper)


@register("lower", Param("str", as_string))
def _lower(ctx: FunctionContext, text: str) -> str:
    return _go_map(text, str.lower)


@register("title", Param("str", as_string))
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


@register("trimspace", Param("str", as_string))
def _trimspace(ctx: FunctionContext, text: str) -> str:
    return text.strip(_GO_SPACE)


@register("trim", Param("str", as_string), Param("cutset", as_string))
def _trim(ctx: FunctionContext, text: str, cutset: str) -> str:
    return text.strip(cutset)


@register("trimprefix", Param("str", as_string), Param("prefix", as_string))
def _trimprefix(ctx: FunctionContext, text: str, prefix: str) -> str:
    return text.removeprefix(prefix)


@register("trimsuffix", Param("str", as_string), Param("suffix", as_string))
def _trimsuffix(ctx: FunctionContext, text: str, suffix: str) -> str:
    return text.removesuffix(suffix)


@register("chomp", Param("str", as_string))
def _chomp(ctx: FunctionContext, text: str) -> str:
    # Terraform removes every trailing \n, \r\n and \r.
    return text.rstrip("\r\n")


@register("indent", Param("spaces", as_whole), Param("str", as_string))
def _indent(ctx: FunctionContext, spaces: int, text: str) -> str:
    if spaces < 0:
        raise Failure("the number of spaces must not be negative", arg=0)
    return text.replace("\n", "\n" + " " * spaces)


@register("join", Param("separator", as_string), Param("lists", as_strings), variadic=True)
def _join(ctx: FunctionContext, separator: str, *lists: list[str | None]) -> str:
    if not lists:
        raise Failure("at least one list is required")
    items: list[str] = []
    for number, items_of_list in enumerate(lists, start=1):
        for index, item in enumerate(items_of_list):
            if item is None:
                where = (
                    f"element {index} of list {number}" if len(lists) > 1 else f"element {index}"
                )
                raise Failure(f"{where} is null; cannot concatenate null values", arg=number)
            items.append(item)
    return separator.join(items)


@register("split", Param("separator", as_string), Param("str", as_string))
def _split(ctx: FunctionContext, separator: str, text: str) -> list[str]:
    # Go splits into single characters on an empty separator, where Python raises.
    return text.split(separator) if separator else list(text)


@register(
    "replace", Param("str", as_string), Param("substr", as_string), Param("replace", as_string)
)
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


@register("substr", Param("str", as_string), Param("offset", as_whole), Param("length", as_whole))
def _substr(ctx: FunctionContext, text: str, offset: int, length: int) -> str:
    clusters = graphemes(text)
    if offset < 0:
        offset = max(offset + len(clusters), 0)
    elif length == 0:
        return ""
    rest = clusters[offset:]
    # A negative length takes the rest; so does 0 after a negative offset, as in cty.
    return "".join(rest if length <= 0 else rest[:length])


@register("strrev", Param("str", as_string))
def _strrev(ctx: FunctionContext, text: str) -> str:
    return "".join(reversed(graphemes(text)))


@register("strcontains", Param("str", as_string), Param("substr", as_string))
def _strcontains(ctx: FunctionContext, text: str, part: str) -> bool:
    return part in text


@register("startswith", Param("str", as_string), Param("prefix", as_string))
def _startswith(ctx: FunctionContext, text: str, prefix: str) -> bool:
    return text.startswith(prefix)


@register("endswith", Param("str", as_string), Param("suffix", as_string))
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
        raise Failure(f"invalid regular expression {render(pattern)}: {message}", arg=arg) from None


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
        raise Failure(
            "invalid regexp pattern: cannot mix both named and unnamed capture groups", arg=0
        )


@register("regex", Param("pattern", as_string), Param("string", as_string))
def _regex(ctx: FunctionContext, pattern_text: str, text: str) -> Value:
    pattern = _regexp(pattern_text, arg=0)
    _result_shape_check(pattern)
    found = _matches(pattern, text)
    if not found:
        raise Failure("pattern did not match any part of the given string")
    return _match_result(pattern, found[0])


@register("regexall", Param("pattern", as_string), Param("string", as_string))
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
                raise Failure(f"invalid format string starting at offset {percent}", arg=0)
            raise Failure(f"unrecognized format character '{spec[end]}' at offset {end}", arg=0)
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
            raise Failure(
                f'not enough arguments for "{part.raw}" at {part.offset}: '
                f"need index {number} but have {len(args)} total"
            )
        out.append(_format_verb(part, args[number - 1]))
        highest = max(highest, number)
        next_arg = number + 1
    if highest < len(args):
        # cty treats unused arguments as a mistake.
        if highest == 0:
            raise Failure("too many arguments; no verbs in format string", arg=1)
        raise Failure(f"too many arguments; only {highest} used by format string", arg=highest + 1)
    return "".join(out)


def _format_verb(verb: _Verb, value: Value) -> str:
    mode = verb.mode
    if value is None and mode != "v":
        raise Failure(
            f'unsupported value for "{verb.raw}" at {verb.offset}: null value cannot be formatted'
        )
    if mode == "v":
        if "#" not in verb.flags and isinstance(value, str):
            return _pad(verb, value)
        if "#" not in verb.flags and is_number(value):
            return _pad(verb, _float_text(as_decimal(value), "g", None))
        return _pad(verb, json_encode(value))
    if mode == "t":
        return "true" if _verb_argument(verb, value, BOOL) else "false"
    if mode in "bdoxX":
        return _format_integer(verb, _verb_argument(verb, value, NUMBER))
    if mode in "eEfgG":
        return _format_float(verb, _verb_argument(verb, value, NUMBER))
    if mode in "sq":
        text = _verb_argument(verb, value, STRING)
        if verb.precision:
            text = "".join(graphemes(text)[: verb.precision])
        return _pad(verb, json_string(text) if mode == "q" else text)
    raise Failure(f"unsupported format verb '{mode}' in \"{verb.raw}\" at offset {verb.offset}")


def _verb_argument(verb: _Verb, value: Value, spec: TypeSpec) -> Value:
    try:
        return convert(value, spec)
    except ConversionError as err:
        raise Failure(
            f'unsupported value for "{verb.raw}" at {verb.offset}: {err.message}'
        ) from None


def _pad(verb: _Verb, text: str) -> str:
    if verb.width is None:
        return text
    missing = verb.width - grapheme_count(text)
    if missing <= 0:
        return text
    padding = ("0" if "0" in verb.flags else " ") * missing
    return text + padding if "-" in verb.flags else padding + text


def _format_integer(verb: _Verb, number: Number) -> str:
    """Go's fmt for a big.Int: [spaces][sign][0x][zeros][digits][spaces]."""
    if isinstance(number, float) and not number.is_integer():
        raise Failure(
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
    exact = as_decimal(number)
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


@register("format", Param("format", as_string), Param("args", nullable=True), variadic=True)
def _format(ctx: FunctionContext, spec: str, *args: Value) -> str:
    return _sprintf(spec, args)


@register(
    "formatlist",
    Param("format", as_string),
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
                raise Failure(
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


# --- templatestring ------------------------------------------------------------------------------
# Terraform also insists that the template argument be a plain reference (local.x), not an
# inline template; a function sees only the value, so that is not checked here.

TEMPLATESTRING_FILE = "<templatestring argument>"
"""The name templatestring's template goes by in messages, as in Terraform's."""


@register("templatestring", Param("template"), Param("vars"), unknowns="shallow")
def _templatestring(ctx: FunctionContext, template: Value, variables: Value) -> Value:
    if not isinstance(template, str):
        raise Failure("invalid template value: a string is required", arg=0)
    check_template_vars(variables, arg=1)
    # Named as if in the module directory, so that file functions in it resolve from there.
    result = ctx.render_template(template, variables, str(ctx.base_dir / TEMPLATESTRING_FILE))
    try:
        return convert(result, STRING)
    except ConversionError:
        raise Failure("invalid template result: string required") from None
