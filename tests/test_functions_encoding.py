"""csvdecode, textencodebase64 and textdecodebase64: values and messages as Terraform 1.11's
`terraform console` gave them."""

from __future__ import annotations

import pytest

from templater.engine.values import Unknown, Value

from .conftest import call, error


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "a,b,c\n1,2,3\n4,5,6",
            [{"a": "1", "b": "2", "c": "3"}, {"a": "4", "b": "5", "c": "6"}],
        ),
        ("a,b\n", []),
        ('"x y","q""r"\n"1\n2",3\n', [{"x y": "1\n2", 'q"r': "3"}]),
        ("a,b\r\n1,2\r\n", [{"a": "1", "b": "2"}]),
        ('a\n"x\r\ny"\n', [{"a": "x\ny"}]),
        ("a, b\n 1,2", [{"a": " 1", " b": "2"}]),
        ("a,b\n\n1,2\n\n\n", [{"a": "1", "b": "2"}]),
        ("#c\na\n1", [{"#c": "a"}, {"#c": "1"}]),
        ('a,b\n1,""\n', [{"a": "1", "b": ""}]),
        ('a\n""""\n', [{"a": '"'}]),
        ("a\r\nb\rc\n", [{"a": "b\rc"}]),
        ("\n\na\n1", [{"a": "1"}]),
    ],
)
def test_csvdecode(text: str, expected: list[dict[str, str]]) -> None:
    assert call("csvdecode", text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b\n1,2,3", "CSV parse error on line 2: wrong number of fields"),
        ("a,b\n1", "CSV parse error on line 2: wrong number of fields"),
        ("a,b,c\n1,2\n", "CSV parse error on line 2: wrong number of fields"),
        ("", "missing header line"),
        ("a,a\n1,2", 'duplicate column name "a"'),
        (",\n1,2", 'duplicate column name ""'),
        ('a,"b\n1,2', 'CSV parse error on line 2: extraneous or missing " in quoted-field'),
        ('a,b"c\n1,2', 'CSV parse error on line 1: bare " in non-quoted-field'),
        ('a\n"1" \n', 'CSV parse error on line 2: extraneous or missing " in quoted-field'),
        ('a\n"x"y\n', 'CSV parse error on line 2: extraneous or missing " in quoted-field'),
    ],
)
def test_csvdecode_errors(text: str, message: str) -> None:
    assert error("csvdecode", text) == f'Call to function "csvdecode" failed: {message}'


@pytest.mark.parametrize(
    ("text", "encoding", "expected"),
    [
        ("Hello World", "UTF-16LE", "SABlAGwAbABvACAAVwBvAHIAbABkAA=="),
        ("Hello", "UTF-16", "/v8ASABlAGwAbABv"),
        ("Hello", "UTF-16BE", "AEgAZQBsAGwAbw=="),
        ("héllo", "ISO-8859-1", "aOlsbG8="),
        ("héllo", "latin1", "aOlsbG8="),
        ("x", "csISOLatin1", "eA=="),
        ("x", "ISO_8859-1:1987", "eA=="),
        ("héllo€", "windows-1252", "aOlsbG+A"),
        ("héllo", "utf-8", "aMOpbGxv"),
        ("日本", "Shift_JIS", "k/qWew=="),
        ("x", "ibm437", "eA=="),
    ],
)
def test_textencodebase64(text: str, encoding: str, expected: str) -> None:
    assert call("textencodebase64", text, encoding) == expected


@pytest.mark.parametrize(
    ("source", "encoding", "expected"),
    [
        ("SABlAGwAbABvACAAVwBvAHIAbABkAA==", "UTF-16LE", "Hello World"),
        ("aOls", "ISO-8859-1", "hél"),
        ("aGk=\n", "UTF-8", "hi"),
        ("aGVs\nbG8=", "UTF-8", "hello"),
        ("aG==", "UTF-8", "h"),
        ("/v8ASABp", "UTF-16", "Hi"),
        ("//5IAGkA", "UTF-16", "Hi"),
        ("AEgAaQ==", "UTF-16", "Hi"),
    ],
)
def test_textdecodebase64(source: str, encoding: str, expected: str) -> None:
    assert call("textdecodebase64", source, encoding) == expected


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        (
            "textencodebase64",
            ("x", "cp1252"),
            'Invalid value for "encoding" parameter: "cp1252" is not a supported IANA encoding '
            "name or alias in this Terraform version",
        ),
        ("textencodebase64", ("x", "UTF-32"), '"UTF-32" is not a supported IANA encoding'),
        ("textdecodebase64", ("aGk=", "UTF8"), '"UTF8" is not a supported IANA encoding'),
        (
            "textencodebase64",
            ("☃", "ISO-8859-1"),
            'Invalid value for "string" parameter: the given string contains characters that '
            "cannot be represented in ISO_8859-1:1987",
        ),
        ("textencodebase64", ("é", "US-ASCII"), "cannot be represented in US-ASCII"),
        (
            "textdecodebase64",
            ("/w==", "UTF-8"),
            'Invalid value for "source" parameter: the given string contains symbols that are '
            "not defined for UTF-8",
        ),
        ("textdecodebase64", ("77+9", "UTF-8"), "not defined for UTF-8"),
        ("textdecodebase64", ("gQ==", "Shift_JIS"), "not defined for Shift_JIS"),
        ("textdecodebase64", ("gA==", "US-ASCII"), "not defined for US-ASCII"),
        # Go's base64 decoder: where it finds the text corrupt.
        (
            "textdecodebase64",
            ("a!k=", "UTF-8"),
            'Invalid value for "source" parameter: the given value is has an invalid base64 '
            "symbol at offset 1",
        ),
        ("textdecodebase64", ("aGk", "UTF-8"), "invalid base64 symbol at offset 0"),
        ("textdecodebase64", ("aGVsbG8", "UTF-8"), "invalid base64 symbol at offset 4"),
        ("textdecodebase64", ("aGk=aGk=", "UTF-8"), "invalid base64 symbol at offset 4"),
        ("textdecodebase64", ("a===", "UTF-8"), "invalid base64 symbol at offset 1"),
        ("textdecodebase64", ("aG=", "UTF-8"), "invalid base64 symbol at offset 3"),
    ],
)
def test_text_encoding_errors(name: str, args: tuple[Value, ...], message: str) -> None:
    assert message in error(name, *args)


def test_an_encoding_python_lacks_gives_unknown() -> None:
    # Terraform knows IBM1047 ("x" is "pw=="); Python has no codec for it.
    assert isinstance(call("textencodebase64", "x", "IBM1047"), Unknown)
