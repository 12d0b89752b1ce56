"""Hash and crypto functions: md5, sha1, sha256 and sha512 of a string or of a file, in hex or
base64, uuid and uuidv5, bcrypt, and rsadecrypt (the key read as Go's ssh package reads it).
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from collections.abc import Callable

from templater.engine.functions.library import (
    Failure,
    FunctionContext,
    Param,
    as_number,
    as_string,
    base64_error_offset,
    base64_text,
    go_whole,
    json_string,
    read_file,
    register,
)
from templater.engine.values import Number, Unknown, Value


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


# --- uuidv5 --------------------------------------------------------------------------------------

_NAMESPACES = {
    "dns": uuid.NAMESPACE_DNS,
    "url": uuid.NAMESPACE_URL,
    "oid": uuid.NAMESPACE_OID,
    "x500": uuid.NAMESPACE_X500,
}
_HEX = frozenset("0123456789abcdefABCDEF")


def _parse_uuid(text: str) -> uuid.UUID:
    """A UUID as Go's google/uuid parses one: plain, in braces (or any two wrapping
    characters), with an urn:uuid: prefix, or 32 bare hex digits; its message otherwise."""
    length = len(text.encode())
    body = text
    if length == 45:
        if text[:9].lower() != "urn:uuid:":
            raise ValueError(f'invalid urn prefix: "{text[:9]}"')
        body = text[9:]
    elif length == 38:
        body = text[1:-1]
    elif length == 32:
        if not set(text) <= _HEX:
            raise ValueError("invalid UUID format")
        return uuid.UUID(hex=text)
    elif length != 36:
        raise ValueError(f"invalid UUID length: {length}")
    dashes_right = all(body[index] == "-" for index in (8, 13, 18, 23))
    digits = body.replace("-", "")
    if not dashes_right or len(digits) != 32 or not set(digits) <= _HEX:
        raise ValueError("invalid UUID format")
    return uuid.UUID(hex=digits)


@register("uuidv5", Param("namespace", as_string), Param("name", as_string))
def _uuidv5(ctx: FunctionContext, namespace: str, name: str) -> str:
    space = _NAMESPACES.get(namespace)
    if space is None:
        try:
            space = _parse_uuid(namespace)
        except ValueError as err:
            raise Failure(f"uuidv5() doesn't support namespace {namespace} ({err})") from None
    return str(uuid.uuid5(space, name))


# --- bcrypt --------------------------------------------------------------------------------------


# Its salt is random, so the hash is not known before apply; the arguments are still checked.
@register("bcrypt", Param("str", as_string), Param("cost", as_number), variadic=True)
def _bcrypt(ctx: FunctionContext, text: str, *costs: Number) -> Value:
    cost = go_whole(costs[0]) if costs else 10
    if len(costs) > 1:
        raise Failure("bcrypt() takes no more than two arguments")
    if len(text.encode()) > 72:
        raise Failure("error occured generating password bcrypt: password length exceeds 72 bytes")
    # A cost below the minimum of 4 takes the default of 10, as in Go's bcrypt.
    if cost > 31:
        raise Failure(
            f"error occured generating password crypto/bcrypt: cost {cost} is outside allowed "
            "range (4,31)"
        )
    return Unknown()


# --- rsadecrypt ----------------------------------------------------------------------------------
# The private key as Go's ssh.ParseRawPrivateKey reads it: PEM holding PKCS #1, PKCS #8 or an
# OpenSSH key; then PKCS #1 v1.5 decryption.

_RSA_ENCRYPTION = bytes.fromhex("2a864886f70d010101")  # the OID 1.2.840.113549.1.1.1
_PEM = re.compile(r"-----BEGIN ([^\n-]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)


class _KeyError(Exception):
    """A private key that cannot be used, with Terraform's words for why."""


def _der(data: bytes, position: int) -> tuple[int, bytes, int]:
    """The DER element at ``position``: its tag, its content and where the next one starts."""
    if position + 2 > len(data):
        raise _KeyError("invalid ASN1 data in the given private key: data truncated")
    tag, length = data[position], data[position + 1]
    position += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or position + count > len(data):
            raise _KeyError("invalid ASN1 data in the given private key: bad length")
        length = int.from_bytes(data[position : position + count], "big")
        position += count
    if position + length > len(data):
        raise _KeyError("invalid ASN1 data in the given private key: data truncated")
    return tag, data[position : position + length], position + length


def _der_sequence(data: bytes, what: str) -> list[tuple[int, bytes]]:
    tag, content, end = _der(data, 0)
    if tag != 0x30 or end != len(data):
        raise _KeyError(f"asn1: structure error: {what} is not a DER sequence")
    items = []
    position = 0
    while position < len(content):
        item_tag, item, position = _der(content, position)
        items.append((item_tag, item))
    return items


def _pkcs1_key(data: bytes) -> tuple[int, int]:
    """The modulus and private exponent of a PKCS #1 RSAPrivateKey."""
    items = _der_sequence(data, "pkcs1PrivateKey")
    if len(items) < 9 or any(tag != 0x02 for tag, _ in items[:9]):
        raise _KeyError("asn1: structure error: pkcs1PrivateKey is not an RSA private key")
    return int.from_bytes(items[1][1], "big"), int.from_bytes(items[3][1], "big")


def _pkcs8_key(data: bytes) -> tuple[int, int]:
    items = _der_sequence(data, "pkcs8")
    if len(items) < 3 or items[1][0] != 0x30 or items[2][0] != 0x04:
        raise _KeyError("asn1: structure error: pkcs8 is not a PKCS #8 private key")
    algorithm = _der(items[1][1], 0)
    if algorithm[0] != 0x06 or algorithm[1] != _RSA_ENCRYPTION:
        raise _KeyError("invalid private key type: not an RSA key")
    return _pkcs1_key(items[2][1])


def _openssh_key(data: bytes) -> tuple[int, int]:
    magic = b"openssh-key-v1\x00"
    if not data.startswith(magic):
        raise _KeyError("invalid private key: ssh: invalid openssh private key format")
    reader = _SshReader(data[len(magic) :])
    cipher = reader.string()
    reader.string()  # the key derivation function
    reader.string()  # its options
    reader.uint32()  # how many keys: Go takes the first
    reader.string()  # the public key
    if cipher != b"none":
        raise _KeyError("invalid private key: ssh: this private key is passphrase protected")
    private = _SshReader(reader.string())
    if private.uint32() != private.uint32():
        raise _KeyError("invalid private key: ssh: malformed OpenSSH key")
    kind = private.string()
    if kind != b"ssh-rsa":
        raise _KeyError(
            f"invalid private key type: not an RSA key ({kind.decode(errors='replace')})"
        )
    modulus = private.mpint()
    private.mpint()  # the public exponent
    return modulus, private.mpint()


class _SshReader:
    """The SSH wire encoding: big-endian lengths before strings and integers."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0

    def uint32(self) -> int:
        if self.position + 4 > len(self.data):
            raise _KeyError("invalid private key: ssh: malformed OpenSSH key")
        value = int.from_bytes(self.data[self.position : self.position + 4], "big")
        self.position += 4
        return value

    def string(self) -> bytes:
        length = self.uint32()
        if self.position + length > len(self.data):
            raise _KeyError("invalid private key: ssh: malformed OpenSSH key")
        value = self.data[self.position : self.position + length]
        self.position += length
        return value

    def mpint(self) -> int:
        return int.from_bytes(self.string(), "big", signed=True)


def _private_key(text: str) -> tuple[int, int]:
    """The modulus and private exponent of an RSA private key in PEM."""
    block = _PEM.search(text)
    if block is None:
        raise _KeyError("invalid private key: ssh: no key found")
    kind, body = block.group(1), block.group(2)
    lines = body.splitlines()
    headers = []
    while lines and ":" in lines[0]:
        headers.append(lines.pop(0))
    if any(header.replace(" ", "") == "Proc-Type:4,ENCRYPTED" for header in headers):
        raise _KeyError("invalid private key: ssh: this private key is passphrase protected")
    encoded = "".join("".join(lines).split())
    if base64_error_offset(encoded) is not None:
        raise _KeyError("invalid private key: ssh: no key found")
    der = base64.b64decode(encoded)
    if kind == "RSA PRIVATE KEY":
        return _pkcs1_key(der)
    if kind == "PRIVATE KEY":
        return _pkcs8_key(der)
    if kind == "OPENSSH PRIVATE KEY":
        return _openssh_key(der)
    if kind in ("EC PRIVATE KEY", "DSA PRIVATE KEY"):
        raise _KeyError(f"invalid private key type: not an RSA key ({kind})")
    raise _KeyError(f'invalid private key: ssh: unsupported key type "{kind}"')


def _pkcs1_v15_message(block: bytes) -> bytes | None:
    """The message inside an encryption block of PKCS #1 v1.5 padding, None if it has none."""
    if block[:2] != b"\x00\x02":
        return None
    separator = block.find(b"\x00", 2)
    if separator < 10:  # at least eight bytes of padding
        return None
    return block[separator + 1 :]


@register("rsadecrypt", Param("ciphertext", as_string), Param("privatekey", as_string))
def _rsadecrypt(ctx: FunctionContext, ciphertext: str, key: str) -> str:
    if base64_error_offset(ciphertext) is not None:
        raise Failure(
            f"failed to decode input {json_string(ciphertext)}: cipher text must be base64-encoded",
            arg=0,
        )
    data = base64.b64decode(ciphertext.replace("\r", "").replace("\n", ""))
    try:
        modulus, exponent = _private_key(key)
    except _KeyError as err:
        raise Failure(str(err), arg=1) from None
    size = (modulus.bit_length() + 7) // 8
    number = int.from_bytes(data, "big")
    message = None
    if modulus > 0 and len(data) == size and number < modulus:
        message = _pkcs1_v15_message(pow(number, exponent, modulus).to_bytes(size, "big"))
    if message is None:
        raise Failure("failed to decrypt: crypto/rsa: decryption error")
    try:
        return message.decode("utf-8")
    except UnicodeDecodeError:
        raise Failure("failed to decrypt: the cleartext is not valid UTF-8") from None
