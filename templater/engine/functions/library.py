"""The core of the function library: the registry, the calling convention and what groups share.

Each function is a :class:`Function` in :data:`FUNCTIONS`, put there by :func:`register`;
:func:`call_function` checks the arguments the way cty does before calling it: arity, null
arguments, unknown arguments (per the function's unknown policy) and conversion of each argument
to its parameter's type, so ``upper(5)`` works and ``upper([])`` says which parameter is wrong.
Implementations receive ``(ctx, *args)`` with the arguments already converted, and raise
:class:`Failure` for their own errors. Names resolve here too: ``core::NAME`` is NAME, a name that
is no function fails in Terraform's words, and a provider's function (other than the built-in
terraform provider's, which are registered) is unknown, as templater installs no providers.

Here too what several groups use: the argument conversions (``as_string``, ``as_whole``,
``go_whole``, ...), exact decimals, grapheme clusters, Terraform's JSON text, base64 text (and
where Go's decoder finds it corrupt), template variables and reading the module's files. The
group modules import this one; it imports none of them.
"""

from __future__ import annotations

import base64
import json
import math
import os
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Literal, NamedTuple, TypeVar

from templater.engine.files import Files
from templater.engine.suggestions import did_you_mean
from templater.engine.types import (
    BOOL,
    NUMBER,
    STRING,
    ConversionError,
    convert,
    describe_value,
    list_of,
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
    "BUILTIN_PROVIDER",
    "CORE",
    "FUNCTIONS",
    "SPECIAL_FORMS",
    "STRINGS",
    "Failure",
    "Function",
    "FunctionContext",
    "Param",
    "UnknownPolicy",
    "as_bools",
    "as_decimal",
    "as_mapping",
    "as_number",
    "as_sequence",
    "as_string",
    "as_strings",
    "as_whole",
    "base64_error_offset",
    "base64_text",
    "call_function",
    "canonical_name",
    "check_template_vars",
    "expand_home",
    "from_decimal",
    "go_clean",
    "go_whole",
    "grapheme_count",
    "graphemes",
    "json_encode",
    "json_string",
    "lookup_function",
    "read_file",
    "register",
    "resolve_path",
    "valid_identifier",
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


class Failure(Exception):
    """A function's own error; ``arg`` is the index of the argument at fault, if one is."""

    def __init__(self, message: str, arg: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.arg = arg


CORE = "core::"
"""Every built-in function is also ``core::NAME``, as in Terraform (1.8 and later)."""

BUILTIN_PROVIDER = "provider::terraform::"
"""The namespace of the built-in ``terraform`` provider's functions, which templater has."""

SPECIAL_FORMS = frozenset({"can", "try"})
"""Functions the evaluator implements, since they need their argument expressions unevaluated."""


def canonical_name(name: str) -> str:
    """The name a function is registered under: ``core::upper`` is ``upper``."""
    return name[len(CORE) :] if name.startswith(CORE) else name


def lookup_function(name: str) -> Function | None:
    """The function ``name`` calls (``core::`` names included), or None."""
    return FUNCTIONS.get(canonical_name(name))


def call_function(name: str, args: Sequence[Value], ctx: FunctionContext) -> Value:
    """Call Terraform function ``name`` with evaluated ``args``; errors are :class:`EvalError`.

    A function of a provider other than the built-in ``terraform`` one gives an unknown value:
    Terraform would ask the provider, and templater downloads none.
    """
    function = lookup_function(name)
    if function is None:
        return _unregistered(name, args)
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
    except Failure as failure:
        if failure.arg is None:
            raise EvalError(f'Call to function "{name}" failed: {failure.message}') from None
        param_name = function.param(failure.arg).name
        raise EvalError(f'Invalid value for "{param_name}" parameter: {failure.message}') from None
    except ConversionError as err:
        raise EvalError(f'Call to function "{name}" failed: {err.message}') from None


def _unregistered(name: str, args: Sequence[Value]) -> Value:
    """A call to a name that is not in :data:`FUNCTIONS`: a provider's function (unknown), or
    an error in Terraform's words."""
    if "::" not in name:
        raise EvalError(_unknown_function_message(name))
    namespace, _, leaf = name.rpartition("::")
    parts = namespace.split("::")
    if parts[0] != "provider":
        raise EvalError(
            f'Unknown provider function: The function namespace "{parts[0]}" is not valid. '
            'Provider function calls must use the "provider::" namespace prefix.'
        )
    if len(parts) == 1:
        raise EvalError(
            "Unknown provider function: The function call must include the provider name after "
            'the "provider::" prefix.'
        )
    if namespace + "::" == BUILTIN_PROVIDER:
        raise EvalError(
            f'Unknown provider function: The function "{leaf}" is not available from the '
            'provider "terraform".'
        )
    return Unknown()


def _unknown_function_message(name: str) -> str:
    """HCL's message for a name that is no function, with its suggestion of a close name (the
    closest; HCL takes any within distance 2) and Terraform's of a provider function."""
    message = f'Call to unknown function: There is no function named "{name}".'
    message += did_you_mean(
        name, (known for known in [*FUNCTIONS, *SPECIAL_FORMS] if "::" not in known)
    )
    for known in sorted(FUNCTIONS):
        if known.endswith("::" + name):
            message += f' Did you mean "{known}"?'
            break
    return message


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


def register(
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

    def add(impl: _Impl) -> _Impl:
        count = len(params)
        min_args = required if required is not None else count - variadic
        max_args = None if variadic else count
        FUNCTIONS[name] = Function(name, impl, min_args, max_args, unknowns, params)
        return impl

    return add


# --- argument conversions ----------------------------------------------------------------------
# Fast paths first: most arguments already have the wanted type.


def as_string(value: Value) -> str:
    return value if type(value) is str else convert(value, STRING)


def as_number(value: Value) -> Number:
    return value if type(value) in (int, float) else convert(value, NUMBER)  # type: ignore[no-any-return]


def as_whole(value: Value) -> int:
    number = as_number(value)
    if isinstance(number, float):
        if not number.is_integer():
            raise ConversionError(f"a whole number is required, got {describe_value(number)}")
        return int(number)
    return number


def as_sequence(value: Value) -> list[Value]:
    if not isinstance(value, list):
        raise ConversionError(f"a list is required, got {describe_value(value)}")
    return value


def as_mapping(value: Value) -> dict[str, Value]:
    if not isinstance(value, dict):
        raise ConversionError(f"a map is required, got {describe_value(value)}")
    return value


def go_whole(number: Number, int64: bool = True) -> int:
    """A number as Go code takes it into an int64 (or with ``int64=False`` a big.Int), which
    fails with cty's message for a fraction or, for an int64, a number out of its range."""
    message = "value must be a whole number"
    if int64:
        message += ", between -9223372036854775808 and 9223372036854775807"
    if isinstance(number, float) and not number.is_integer():  # infinities too
        raise Failure(message)
    whole = int(number)
    if int64 and not -(2**63) <= whole < 2**63:
        raise Failure(message)
    return whole


STRINGS = list_of(STRING)


def as_strings(value: Value) -> list[Value]:
    return convert(value, STRINGS)  # type: ignore[no-any-return]


def as_bools(value: Value) -> list[Value]:
    return convert(value, list_of(BOOL))  # type: ignore[no-any-return]


def as_decimal(number: Number) -> Decimal:
    """A number as an exact decimal: a float by its shortest repr, which is the decimal
    literal it most likely came from, as cty keeps numbers in decimal-friendly big floats."""
    return Decimal(number) if isinstance(number, int) else Decimal(repr(number))


def from_decimal(number: Decimal) -> Number:
    if number == number.to_integral_value():
        return int(number)
    return normalize_number(float(number))


# --- grapheme clusters ---------------------------------------------------------------------------
# Terraform counts, slices and pads strings by grapheme cluster (what a reader sees as one
# character). This is an approximation of UAX #29 covering combining marks, emoji ZWJ
# sequences, skin-tone modifiers, flags and CRLF, which is what real text contains.

_EXTENDING = frozenset({"Mn", "Me", "Mc"})
_REGIONAL_INDICATORS = "".join(map(chr, range(0x1F1E6, 0x1F200)))


def graphemes(text: str) -> list[str]:
    """The grapheme clusters of ``text``, in order."""
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


def grapheme_count(text: str) -> int:
    """How many grapheme clusters ``text`` has: its length as Terraform measures it."""
    if text.isascii():
        return len(text) - text.count("\r\n")
    return len(graphemes(text))


# --- JSON and base64 text ------------------------------------------------------------------------

# Go's encoding/json escapes these for safe embedding in HTML; Terraform's output keeps that.
_JSON_HTML_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def json_string(text: str) -> str:
    """A string as JSON, escaped as Go's encoding/json escapes it."""
    return json.dumps(text, ensure_ascii=False).translate(_JSON_HTML_ESCAPES)


def json_encode(value: Value) -> str:
    """Terraform's jsonencode: compact, keys sorted, numbers never in exponent form."""
    if isinstance(value, str):
        return json_string(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        number = normalize_number(value)
        if isinstance(number, int):
            return str(number)
        if not math.isfinite(number):
            raise Failure("cannot serialize infinity as JSON")
        return format(as_decimal(number), "f")
    if isinstance(value, list):
        return "[" + ",".join(json_encode(item) for item in value) + "]"
    return (
        "{"
        + ",".join(f"{json_string(key)}:{json_encode(value[key])}" for key in sorted(value))
        + "}"
    )


def base64_text(data: bytes) -> str:
    """Bytes in standard, padded base64."""
    return base64.b64encode(data).decode("ascii")


def base64_error_offset(text: str) -> int | None:
    """Where Go's strict base64 decoder finds ``text`` corrupt (line breaks are skipped, and a
    short last group is faulted at its start), or None when it is valid."""
    alphabet = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    position = 0
    length = len(text)

    def skip_breaks(at: int) -> int:
        while at < length and text[at] in "\r\n":
            at += 1
        return at

    while True:
        count = 0
        while count < 4:
            if position == length:
                if count == 0:
                    return None
                return position - count
            char = text[position]
            position += 1
            if char in alphabet:
                count += 1
                continue
            if char in "\r\n":
                continue
            if char != "=" or count < 2:
                return position - 1
            if count == 2:
                position = skip_breaks(position)
                if position == length:
                    return length
                if text[position] != "=":
                    return position - 1
                position += 1
            position = skip_breaks(position)
            return position if position < length else None


# --- templates -----------------------------------------------------------------------------------


def valid_identifier(name: str) -> bool:
    """Whether ``name`` is an HCL identifier: a letter or "_", then letters, digits, "_" and
    "-" (Unicode's identifier characters, as HCL's)."""
    return name[:1] != "-" and name.replace("-", "_").isidentifier()


def check_template_vars(variables: Value, arg: int) -> None:
    """What templatefile and templatestring ask of their variables: a map of valid names."""
    if not isinstance(variables, dict):
        raise Failure("invalid vars value: must be a map", arg=arg)
    for name in variables:
        if not valid_identifier(name):
            raise Failure(
                f"invalid template variable name {render(name)}: must start with a letter, "
                "followed by zero or more letters, digits, and underscores",
                arg=arg,
            )


# --- files ---------------------------------------------------------------------------------------


def go_clean(path: str) -> str:
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


def expand_home(path: str) -> str:
    """A leading ``~`` replaced by the home directory, as Terraform's pathexpand does."""
    if not path.startswith("~"):
        return path
    if len(path) > 1 and path[1] not in "/\\":
        raise Failure("cannot expand user-specific home dir", arg=0)
    return go_clean(os.path.expanduser("~") + "/" + path[1:])


def resolve_path(ctx: FunctionContext, path: str) -> Path:
    """Where ``path`` is: relative paths are relative to the module directory."""
    return ctx.base_dir / expand_home(path)


_T = TypeVar("_T")


def read_file(ctx: FunctionContext, path: str, reader: Callable[[Path], _T]) -> _T:
    """The file at ``path`` read by ``reader``; failing, Terraform's message for the reason."""
    try:
        return reader(resolve_path(ctx, path))
    except FileNotFoundError:
        raise Failure(
            f"no file exists at {render(path)}; this function works only with files that are "
            "distributed as part of the configuration source code, so if this file will be "
            "created by a resource in this configuration you must instead obtain this result "
            "from an attribute of that resource",
            arg=0,
        ) from None
    except UnicodeDecodeError:
        raise Failure(
            f"contents of {render(path)} are not valid UTF-8; use the filebase64 function to "
            "obtain the Base64 encoded contents or the other file functions (e.g. filemd5, "
            "filesha256) to obtain file hashing results instead",
            arg=0,
        ) from None
    except OSError as err:
        raise Failure(f"failed to read file {render(path)}: {err.strerror or err}", arg=0) from None
