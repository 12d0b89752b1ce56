"""Encoding functions: jsonencode and jsondecode, urlencode, base64encode, base64decode and
base64gzip, giving what Go's encoders give. The JSON text itself is the core's: format uses it too.
"""

from __future__ import annotations

import base64
import json
import struct
import urllib.parse
import zlib

from templater.engine.functions.library import (
    Failure,
    FunctionContext,
    Param,
    as_string,
    json_encode,
    register,
)
from templater.engine.types import parse_number
from templater.engine.values import Value, render


def _json_constant(name: str) -> Value:
    raise Failure(f"invalid JSON: {name} is not a JSON value", arg=0)


@register("jsonencode", Param("val", nullable=True))
def _jsonencode(ctx: FunctionContext, value: Value) -> str:
    return json_encode(value)


@register("jsondecode", Param("str", as_string))
def _jsondecode(ctx: FunctionContext, text: str) -> Value:
    try:
        return json.loads(text, parse_float=parse_number, parse_constant=_json_constant)
    except json.JSONDecodeError as err:
        raise Failure(
            f"invalid JSON: {err.msg} at line {err.lineno}, column {err.colno}", arg=0
        ) from None
    except RecursionError:
        raise Failure("invalid JSON: nested too deeply", arg=0) from None


@register("urlencode", Param("str", as_string))
def _urlencode(ctx: FunctionContext, text: str) -> str:
    # Go's url.QueryEscape: space becomes "+", everything but A-Za-z0-9-_.~ is %-escaped.
    return urllib.parse.quote_plus(text, safe="")


@register("base64encode", Param("str", as_string))
def _base64encode(ctx: FunctionContext, text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")


@register("base64decode", Param("str", as_string))
def _base64decode(ctx: FunctionContext, text: str) -> str:
    try:
        # Go's decoder skips line breaks but insists on padding, as validate=True does.
        data = base64.b64decode(text.replace("\r", "").replace("\n", ""), validate=True)
    except ValueError:
        raise Failure(f"failed to decode base64 data {render(text)}", arg=0) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise Failure("the result of decoding the provided string is not valid UTF-8") from None


# The gzip header Go's gzip.Writer writes: no file name, no time, "unknown" operating system.
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


@register("base64gzip", Param("str", as_string))
def _base64gzip(ctx: FunctionContext, text: str) -> str:
    # Valid gzip that decompresses to the same text; the deflate bytes may differ from Go's.
    data = text.encode()
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = compressor.compress(data) + compressor.flush()
    trailer = struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
    return base64.b64encode(_GZIP_HEADER + body + trailer).decode("ascii")
