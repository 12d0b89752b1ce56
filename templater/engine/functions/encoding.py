"""Encoding functions: jsonencode and jsondecode, urlencode, base64encode, base64decode,
base64gzip, csvdecode, textencodebase64 and textdecodebase64, giving what Go's encoders and
decoders give. The JSON text itself is the core's: format uses it too; YAML has its own module.
"""

from __future__ import annotations

import base64
import json
import re
import struct
import urllib.parse
import zlib

from templater.engine.functions.library import (
    Failure,
    FunctionContext,
    Param,
    as_string,
    base64_error_offset,
    base64_text,
    json_encode,
    json_string,
    register,
)
from templater.engine.types import parse_number
from templater.engine.values import Unknown, Value, render


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


# --- csvdecode -----------------------------------------------------------------------------------


class _CsvError(Exception):
    def __init__(self, line: int, problem: str) -> None:
        super().__init__(problem)
        self.line = line
        self.problem = problem


def _csv_records(text: str) -> list[list[str]]:
    """The records of CSV text as Go's encoding/csv reads them by default: RFC 4180 quoting,
    CRLF read as LF, blank lines skipped, no bare quote in an unquoted field, and every record
    as long as the first."""
    lines = [
        line[:-2] + "\n" if line.endswith("\r\n") else line
        for line in re.findall(r"[^\n]*\n|[^\n]+\Z", text)
    ]
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    records: list[list[str]] = []
    index = 0
    while index < len(lines):
        if lines[index] == "\n":
            index += 1
            continue
        start = index
        record, index = _csv_record(lines, index)
        if records and len(record) != len(records[0]):
            raise _CsvError(start + 1, "wrong number of fields")
        records.append(record)
    return records


def _csv_record(lines: list[str], index: int) -> tuple[list[str], int]:
    """One record starting on ``lines[index]``, and the index of the line after it."""
    fields: list[str] = []
    line = lines[index]
    position = 0
    while True:
        if line.startswith('"', position):
            value: list[str] = []
            position += 1
            while True:
                quote = line.find('"', position)
                if quote < 0:
                    # The field goes on over a line break.
                    value.append(line[position:])
                    index += 1
                    if index == len(lines):
                        raise _CsvError(index, 'extraneous or missing " in quoted-field')
                    line, position = lines[index], 0
                    continue
                value.append(line[position:quote])
                position = quote + 1
                if line.startswith('"', position):
                    value.append('"')
                    position += 1
                    continue
                break
            fields.append("".join(value))
            if line.startswith(",", position):
                position += 1
                continue
            if line[position:] == "\n":
                return fields, index + 1
            raise _CsvError(index + 1, 'extraneous or missing " in quoted-field')
        end = line.find(",", position)
        field = line[position : len(line) - 1 if end < 0 else end]
        if '"' in field:
            raise _CsvError(index + 1, 'bare " in non-quoted-field')
        fields.append(field)
        if end < 0:
            return fields, index + 1
        position = end + 1


@register("csvdecode", Param("str", as_string))
def _csvdecode(ctx: FunctionContext, text: str) -> list[dict[str, str]]:
    try:
        records = _csv_records(text)
    except _CsvError as error:
        raise Failure(f"CSV parse error on line {error.line}: {error.problem}") from None
    if not records:
        raise Failure("missing header line")
    header, *rows = records
    for position, name in enumerate(header):
        if name in header[:position]:
            raise Failure(f"duplicate column name {json_string(name)}")
    return [dict(zip(header, row, strict=True)) for row in rows]


# --- textencodebase64 and textdecodebase64 -------------------------------------------------------
# The character encodings of the IANA registry that Terraform knows, by their IANA name (as its
# messages call them) with their registered aliases, and the Python codec that encodes them.

_IANA_ENCODINGS: tuple[tuple[str, str, str], ...] = (
    ("UTF-8", "utf-8", "csUTF8"),
    ("UTF-16", "utf-16", "csUTF16"),
    ("UTF-16BE", "utf-16-be", "csUTF16BE"),
    ("UTF-16LE", "utf-16-le", "csUTF16LE"),
    (
        "US-ASCII",
        "ascii",
        "iso-ir-6 ANSI_X3.4-1968 ANSI_X3.4-1986 ISO_646.irv:1991 ISO646-US us IBM367 cp367 csASCII",
    ),
    (
        "ISO_8859-1:1987",
        "latin-1",
        "iso-ir-100 ISO_8859-1 ISO-8859-1 latin1 l1 IBM819 CP819 csISOLatin1",
    ),
    ("ISO_8859-2:1987", "iso8859-2", "iso-ir-101 ISO_8859-2 ISO-8859-2 latin2 l2 csISOLatin2"),
    ("ISO_8859-3:1988", "iso8859-3", "iso-ir-109 ISO_8859-3 ISO-8859-3 latin3 l3 csISOLatin3"),
    ("ISO_8859-4:1988", "iso8859-4", "iso-ir-110 ISO_8859-4 ISO-8859-4 latin4 l4 csISOLatin4"),
    (
        "ISO_8859-5:1988",
        "iso8859-5",
        "iso-ir-144 ISO_8859-5 ISO-8859-5 cyrillic csISOLatinCyrillic",
    ),
    (
        "ISO_8859-6:1987",
        "iso8859-6",
        "iso-ir-127 ISO_8859-6 ISO-8859-6 ECMA-114 ASMO-708 arabic csISOLatinArabic",
    ),
    (
        "ISO_8859-7:1987",
        "iso8859-7",
        "iso-ir-126 ISO_8859-7 ISO-8859-7 ELOT_928 ECMA-118 greek greek8 csISOLatinGreek",
    ),
    ("ISO_8859-8:1988", "iso8859-8", "iso-ir-138 ISO_8859-8 ISO-8859-8 hebrew csISOLatinHebrew"),
    ("ISO_8859-9:1989", "iso8859-9", "iso-ir-148 ISO_8859-9 ISO-8859-9 latin5 l5 csISOLatin5"),
    ("ISO_8859-6-E", "iso8859-6", "csISO88596E ISO-8859-6-E"),
    ("ISO_8859-6-I", "iso8859-6", "csISO88596I ISO-8859-6-I"),
    ("ISO_8859-8-E", "iso8859-8", "csISO88598E ISO-8859-8-E"),
    ("ISO_8859-8-I", "iso8859-8", "csISO88598I ISO-8859-8-I"),
    ("ISO-8859-10", "iso8859-10", "iso-ir-157 l6 ISO_8859-10:1992 csISOLatin6 latin6"),
    ("ISO-8859-13", "iso8859-13", "csISO885913"),
    ("ISO-8859-14", "iso8859-14", "iso-ir-199 ISO_8859-14:1998 ISO_8859-14 latin8 iso-celtic l8"),
    ("ISO-8859-15", "iso8859-15", "ISO_8859-15 Latin-9 csISO885915"),
    ("ISO-8859-16", "iso8859-16", "iso-ir-226 ISO_8859-16:2001 ISO_8859-16 latin10 l10"),
    ("windows-874", "cp874", "cswindows874"),
    *((f"windows-{page}", f"cp{page}", f"cswindows{page}") for page in range(1250, 1259)),
    ("KOI8-R", "koi8-r", "csKOI8R"),
    ("KOI8-U", "koi8-u", "csKOI8U"),
    ("IBM437", "cp437", "cp437 437 csPC8CodePage437"),
    ("IBM850", "cp850", "cp850 850 csPC850Multilingual"),
    ("IBM852", "cp852", "cp852 852 csPCp852"),
    ("IBM855", "cp855", "cp855 855 csIBM855"),
    ("IBM00858", "cp858", "CCSID00858 CP00858 PC-Multilingual-850+euro csIBM00858"),
    ("IBM860", "cp860", "cp860 860 csIBM860"),
    ("IBM862", "cp862", "cp862 862 csPC862LatinHebrew"),
    ("IBM863", "cp863", "cp863 863 csIBM863"),
    ("IBM865", "cp865", "cp865 865 csIBM865"),
    ("IBM866", "cp866", "cp866 866 csIBM866"),
    ("IBM037", "cp037", "cp037 ebcdic-cp-us ebcdic-cp-ca ebcdic-cp-wt ebcdic-cp-nl csIBM037"),
    ("IBM01140", "cp1140", "CCSID01140 CP01140 ebcdic-us-37+euro csIBM01140"),
    # Python has no codec for this one: what it encodes or decodes is unknown here.
    ("IBM1047", "", "IBM-1047 csIBM1047"),
    ("macintosh", "mac-roman", "mac csMacintosh"),
    ("Shift_JIS", "cp932", "MS_Kanji csShiftJIS"),
    ("EUC-JP", "euc_jp", "Extended_UNIX_Code_Packed_Format_for_Japanese csEUCPkdFmtJapanese"),
    ("ISO-2022-JP", "iso2022_jp", "csISO2022JP"),
    ("EUC-KR", "cp949", "csEUCKR"),
    ("GBK", "gbk", "CP936 MS936 windows-936 csGBK"),
    ("GB18030", "gb18030", "csGB18030"),
    ("HZ-GB-2312", "hz", ""),
    ("Big5", "big5hkscs", "csBig5"),
)
_ENCODINGS_BY_NAME: dict[str, tuple[str, str]] = {
    alias.lower(): (name, codec)
    for name, codec, aliases in _IANA_ENCODINGS
    for alias in (name, *aliases.split())
}


def _iana_encoding(name: str) -> tuple[str, str]:
    """The IANA name and the Python codec of the encoding ``name`` (any case, any alias)."""
    found = _ENCODINGS_BY_NAME.get(name.lower())
    if found is None:
        raise Failure(
            f"{json_string(name)} is not a supported IANA encoding name or alias in this "
            "Terraform version",
            arg=1,
        )
    return found


@register("textencodebase64", Param("string", as_string), Param("encoding", as_string))
def _textencodebase64(ctx: FunctionContext, text: str, encoding: str) -> Value:
    name, codec = _iana_encoding(encoding)
    if not codec:
        return Unknown()
    try:
        # Go's UTF-16 writes a big-endian byte-order mark and big-endian text.
        data = b"\xfe\xff" + text.encode("utf-16-be") if codec == "utf-16" else text.encode(codec)
    except UnicodeEncodeError:
        raise Failure(
            f"the given string contains characters that cannot be represented in {name}", arg=0
        ) from None
    return base64_text(data)


@register("textdecodebase64", Param("source", as_string), Param("encoding", as_string))
def _textdecodebase64(ctx: FunctionContext, source: str, encoding: str) -> Value:
    name, codec = _iana_encoding(encoding)
    offset = base64_error_offset(source)
    if offset is not None:
        raise Failure(f"the given value is has an invalid base64 symbol at offset {offset}", arg=0)
    if not codec:
        return Unknown()
    data = base64.b64decode(source.replace("\r", "").replace("\n", ""))
    if codec == "utf-16":
        # Go's UTF-16 follows a byte-order mark and takes big-endian without one.
        codec = "utf-16-le" if data[:2] == b"\xff\xfe" else "utf-16-be"
        data = data[2:] if data[:2] in (b"\xff\xfe", b"\xfe\xff") else data
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        text = "\ufffd"
    if "\ufffd" in text:
        raise Failure(f"the given string contains symbols that are not defined for {name}", arg=0)
    return text
