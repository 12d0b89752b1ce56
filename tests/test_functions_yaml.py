"""yamlencode and yamldecode: the text and values Terraform 1.11's `terraform console` gave."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from templater.engine.values import Unknown, Value

from .conftest import call, error

LONG = "x" * 100 + " " + "y" * 50
WORDS = " ".join(list("abcdefghijklmnopqrstuvwxyz") * 2)
FOLD = WORDS.rindex(" p ")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            {
                "a": "b",
                "c": 1,
                "d": [1, 2, {"e": True}],
                "f": None,
                "g": {},
                "h": [],
                "k l": "m: n",
            },
            '"a": "b"\n"c": 1\n"d":\n- 1\n- 2\n- "e": true\n"f": null\n"g": {}\n"h": []\n'
            '"k l": "m: n"\n',
        ),
        ("hello", '"hello"\n'),
        (1.5, "1.5\n...\n"),
        (True, "true\n...\n"),
        (None, "null\n...\n"),
        (100000000000000000000, "100000000000000000000\n...\n"),
        (1e-7, "0.0000001\n...\n"),
        (float("inf"), "+Inf\n...\n"),
        ("line1\nline2\n", "|\n  line1\n  line2\n"),
        ("a\n\n", "|+\n  a\n\n"),
        ("\n", "|2+\n\n"),
        ([1, "a\n\n"], "- 1\n- |+\n  a\n\n"),
        ([[1, 2], [3]], "- - 1\n  - 2\n- - 3\n"),
        ({"a": {"b": {"c": 1}}}, '"a":\n  "b":\n    "c": 1\n'),
        ([{"a": 1, "b": 2}], '- "a": 1\n  "b": 2\n'),
        ([], "[]\n"),
        ({"true": 1, "1": 2, "a b": 3}, '"1": 2\n"a b": 3\n"true": 1\n'),
        (
            ["a\nb", "yes", "1", "", " x", "null", "~", "#x", "é", "x\ty", "0x10", "a\n"],
            '- |-\n  a\n  b\n- "yes"\n- "1"\n- ""\n- " x"\n- "null"\n- "~"\n- "#x"\n- "é"\n'
            '- "x\\ty"\n- "0x10"\n- |\n  a\n',
        ),
        (
            ["trailing \n", " lead\nx", "tab\t\nx", "a\r\nb", "\u0085x\ny", "x\u2028\ny"],
            '- "trailing \\n"\n- |2-\n   lead\n  x\n- "tab\\t\\nx"\n- "a\\r\\nb"\n- "\\Nx\\ny"\n'
            "- |-\n  x\u2028\n  y\n",
        ),
        # Long double-quoted strings fold at 80 columns, as libyaml folds them.
        ([LONG, 1.5], f'- "{"x" * 100}\n  {"y" * 50}"\n- 1.5\n'),
        (WORDS, f'"{WORDS[:FOLD]}\n  {WORDS[FOLD + 1 :]}"\n'),
    ],
)
def test_yamlencode(value: Value, expected: str) -> None:
    assert call("yamlencode", value) == expected


def test_yamlencode_of_unknowns_is_unknown() -> None:
    assert isinstance(call("yamlencode", {"a": [Unknown()]}), Unknown)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello: world\n", {"hello": "world"}),
        ("- a\n- b\n", ["a", "b"]),
        ("{a: 1, b: [true, null]}", {"a": 1, "b": [True, None]}),
        ("~", None),
        ("Null", None),
        # YAML 1.1's spellings of bools are bools, as in go-cty-yaml.
        (
            "[yes, no, on, off, y, n, True, FALSE]",
            [True, False, True, False, True, False, True, False],
        ),
        (
            "[1, -1, +1, 0o17, 0x1F, 017, 1.5, 1., .5, 1e3, -1.5e+3]",
            [1, -1, 1, 15, 31, 17, 1.5, 1, 0.5, 1000, -1500],
        ),
        ("[.inf, -.inf]", [float("inf"), float("-inf")]),
        # Not numbers by YAML 1.2's patterns, so strings.
        (
            "[1_000, '1', 12:30, 1.2.3, -, 0b101, 1e, 0x, .]",
            ["1_000", "1", "12:30", "1.2.3", "-", "0b101", "1e", "0x", "."],
        ),
        ("!!int 1_000", 1000),
        ("!!int 0x1F", 31),
        ("!!float 1", 1),
        ("!!bool yes", True),
        ("!!bool 1", 1),
        ("!!null x", None),
        ("!!str 1", "1"),
        ("!!binary aGVsbG8=", "aGVsbG8="),
        # Timestamps become RFC 3339 strings.
        ("2001-12-14", "2001-12-14T00:00:00Z"),
        ("2001-12-14t21:59:43.10-05:00", "2001-12-14T21:59:43-05:00"),
        ("2001-12-14T21:59:43+00:00", "2001-12-14T21:59:43Z"),
        ("2001-12-14 21:59:43.10", "2001-12-14T21:59:43Z"),
        ("2001-2-3", "2001-02-03T00:00:00Z"),
        ("2001-12-14T21:59:43", "2001-12-14T21:59:43"),
        ("2001-02-30", "2001-02-30"),
        ("'2001-12-14'", "2001-12-14"),
        ("!!timestamp 2001-12-14", "2001-12-14T00:00:00Z"),
        ("a: &x {b: 1}\nc: *x\n", {"a": {"b": 1}, "c": {"b": 1}}),
        (
            "base: &b {x: 1, z: 2}\nd:\n  <<: *b\n  z: 3\n",
            {"base": {"x": 1, "z": 2}, "d": {"x": 1, "z": 3}},
        ),
        # y is YAML 1.1's true, even as a key: so says Terraform.
        (
            "base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n",
            {"base": {"x": 1, "true": 2}, "d": {"x": 1, "true": 3}},
        ),
        ("1: a\n2.50: b\ntrue: c", {"1": "a", "2.5": "b", "true": "c"}),
        ("a: 1\na: 2", {"a": 2}),
        ("a: |\n  x\n  y\nb: >\n  p\n  q\n", {"a": "x\ny\n", "b": "p q\n"}),
        ("a: 'it''s'", {"a": "it's"}),
        ('key: "\\x41\\u00e9"', {"key": "Aé"}),
        ("---\nx\n...\n", "x"),
        ("%YAML 1.1\n---\nx", "x"),
        ("- <<\n", ["<<"]),
    ],
)
def test_yamldecode(text: str, expected: Value) -> None:
    result = call("yamldecode", text)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # go-cty-yaml counts most lines from 0 and gives no place on the first line.
        ("a: [", "on line 1, column 1: did not find expected node content"),
        ("a: [1, 2\n", "on line 1, column 1: did not find expected ',' or ']'"),
        ("a:\n  - b\n c: d", "on line 2, column 2: did not find expected key"),
        ("key: @x", "found character that cannot start any token"),
        ('"a', "found unexpected end of stream"),
        ("a: 1\n---\nb: 2", "on line 1, column 1: unexpected extra content after value"),
        ("", "on line 1, column 1: missing start of document"),
        ("%YAML 1.2\n---\nx", "found incompatible YAML document"),
        ("\n\n%YAML 1.2\n---\nx", "on line 2, column 1: found incompatible YAML document"),
        (".nan", "floating point NaN is not supported"),
        ("!foo x", 'unsupported tag "!foo"'),
        ("!!set {a}", "can't interpret mapping as tag:yaml.org,2002:set"),
        ("a: !!set x", 'unsupported tag "tag:yaml.org,2002:set"'),
        ("!!int abc", 'cannot parse "abc" as tag:yaml.org,2002:int'),
        ("!!binary abc", 'cannot parse "abc" as tag:yaml.org,2002:binary: not valid base64'),
        ("!!map [1]", "can't interpret sequence as tag:yaml.org,2002:map"),
        ("!!seq {a: 1}", "can't interpret mapping as tag:yaml.org,2002:seq"),
        ("&a [*a]", 'cannot refer to anchor "a" from inside its own definition'),
        ("a: *nope", 'reference to undefined anchor "nope"'),
        ("x: 1\ny: [a, *b]\n", 'on line 1, column 8: reference to undefined anchor "b"'),
        ("? [1]\n: 2", "only strings are allowed as mapping keys"),
        ("~: 1", "mapping key cannot be null"),
        ("a:\n  <<: [1]\n", "on line 1, column 3: cannot merge tuple into mapping"),
    ],
)
def test_yamldecode_errors(text: str, message: str) -> None:
    assert error("yamldecode", text) == f'Call to function "yamldecode" failed: {message}'


def test_yamldecode_of_null_and_unknown() -> None:
    assert error("yamldecode", None) == (
        'Invalid value for "src" parameter: argument must not be null'
    )
    assert isinstance(call("yamldecode", Unknown()), Unknown)


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(yaml_values)
def test_yamldecode_inverts_yamlencode(value: Value) -> None:
    assert call("yamldecode", call("yamlencode", value)) == value
