"""Hash and crypto functions: md5, sha1, sha256 and sha512 of a string or of a file, in hex or
base64, and uuid.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from templater.engine.functions.library import (
    FunctionContext,
    Param,
    as_string,
    base64_text,
    read_file,
    register,
)
from templater.engine.values import Unknown, Value


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
        return encode(hashlib.new(algorithm, read_file(ctx, path, ctx.read_bytes)).digest())

    return digest


def _hex(digest: bytes) -> str:
    return digest.hex()


for _algorithm in ("md5", "sha1", "sha256", "sha512"):
    register(_algorithm, Param("str", as_string))(_text_hash(_algorithm, _hex))
    register(f"file{_algorithm}", Param("path", as_string))(_file_hash(_algorithm, _hex))
for _algorithm in ("sha256", "sha512"):
    register(f"base64{_algorithm}", Param("str", as_string))(_text_hash(_algorithm, base64_text))
    register(f"filebase64{_algorithm}", Param("path", as_string))(
        _file_hash(_algorithm, base64_text)
    )


# Not known before apply: Terraform itself leaves it unknown during planning.
@register("uuid", unknowns="handles")
def _uuid(ctx: FunctionContext) -> Value:
    return Unknown()
