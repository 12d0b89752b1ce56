"""The built-in terraform provider's functions: provider::terraform::encode_expr, encode_tfvars
and decode_tfvars, with the text and messages Terraform 1.11's `terraform console` gave."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from templater.engine.functions import FunctionContext, call_function
from templater.engine.values import EvalError, Unknown, Value


def _no_templates(text: str, variables: dict[str, Value], file_name: str) -> Value:
    raise AssertionError("no template expected")


CTX = FunctionContext(Path("."), _no_templates)
PROVIDER = "provider::terraform::"


def call(name: str, *args: Value) -> Value:
    return call_function(PROVIDER + name, list(args), CTX)


def error(name: str, *args: Value) -> str:
    with pytest.raises(EvalError) as caught:
        call(name, *args)
    return caught.value.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("hello", '"hello"'),
        ([], "[]"),
        ({}, "{}"),
        (1e-7, "0.0000001"),
        ([[1, 2], [{"a": 1}]], "[[1, 2], [{\n  a = 1\n}]]"),
        (
            {"long_name_here": 1, "a": 2, "x-y": 3},
            "{\n  a              = 2\n  long_name_here = 1\n  x-y            = 3\n}",
        ),
        ("$${x}", '"$$${x}"'),
        ("a$b%c$", '"a$b%c$"'),
        (
            {
                "a": 1,
                "b c": [True, None, "x"],
                "d": {},
                "e": [],
                "f": {"g": {"h": 1}},
                "1x": 2,
                "for": 3,
                "i": 1.5,
                "j": -2,
                "k": 'a\nb"c\\d${x}%{y}\té',
                "l": ["a", "b"],
                "m": {"z": 1},
                "n": [1],
            },
            "{\n"
            '  "1x"  = 2\n'
            "  a     = 1\n"
            '  "b c" = [true, null, "x"]\n'
            "  d     = {}\n"
            "  e     = []\n"
            "  f = {\n"
            "    g = {\n"
            "      h = 1\n"
            "    }\n"
            "  }\n"
            "  for = 3\n"
            "  i   = 1.5\n"
            "  j   = -2\n"
            '  k   = "a\\nb\\"c\\\\d$${x}%%{y}\\té"\n'
            '  l   = ["a", "b"]\n'
            "  m = {\n"
            "    z = 1\n"
            "  }\n"
            "  n = [1]\n"
            "}",
        ),
        (
            {"a": [{"b": 1}], "bb": 2, "ccc": {"d": [1, {"e": "f"}]}, "é": 1, "zz": "\x01\u200d"},
            '{\n  a = [{\n    b = 1\n  }]\n  bb = 2\n  ccc = {\n    d = [1, {\n      e = "f"\n'
            '    }]\n  }\n  zz = "\\u0001\\u200d"\n  é  = 1\n}',
        ),
    ],
)
def test_encode_expr(value: Value, expected: str) -> None:
    assert call("encode_expr", value) == expected


def test_encode_expr_of_null_and_unknowns() -> None:
    assert error("encode_expr", None) == (
        'Invalid value for "value" parameter: argument must not be null'
    )
    assert isinstance(call("encode_expr", [Unknown()]), Unknown)


def test_encode_tfvars() -> None:
    assert call("encode_tfvars", {"a": 1, "bbb": 2, "c": {"d": "e"}, "ff": [1, 2], "g": "x"}) == (
        'a   = 1\nbbb = 2\nc = {\n  d = "e"\n}\nff = [1, 2]\ng  = "x"\n'
    )
    assert call("encode_tfvars", {}) == ""
    assert error("encode_tfvars", {"1x": 1}) == (
        'Call to function "provider::terraform::encode_tfvars" failed: invalid variable name '
        '"1x": must be a valid identifier, per Terraform\'s rules for input variable declarations'
    )
    for value in ([1], "x"):
        assert error("encode_tfvars", value) == (
            'Call to function "provider::terraform::encode_tfvars" failed: invalid value to '
            "encode: must be an object whose attribute names will become the encoded variable "
            "names"
        )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('a = 1\nb = "x"\nc = [1, {d = true}]\n', {"a": 1, "b": "x", "c": [1, {"d": True}]}),
        ("", {}),
        ('a = "${1}x"\nb = -1\ne = null', {"a": "1x", "b": -1, "e": None}),
        (
            'a = <<EOT\nhello\nEOT\nb = { "x y" = 1, z = [] }\n',
            {"a": "hello\n", "b": {"x y": 1, "z": []}},
        ),
    ],
)
def test_decode_tfvars(text: str, expected: Value) -> None:
    assert call("decode_tfvars", text) == expected


def test_identifiers_are_hcls() -> None:
    assert call("encode_expr", {"²": 1, "_a": 2, "a-b": 3, "-a": 4}) == (
        '{\n  "-a" = 4\n  _a   = 2\n  a-b  = 3\n  "²"  = 1\n}'
    )
    assert 'invalid variable name "²"' in error("encode_tfvars", {"²": 1})


def test_decode_tfvars_leaves_what_needs_an_evaluator_unknown() -> None:
    # Terraform gives 3, 1 and [1]; templater's tfvars reader evaluates no operators.
    decoded = call("decode_tfvars", "a = 1 + 2\nb = true ? 1 : 2\nc = [for x in [1]: x]\nd = 4")
    assert isinstance(decoded["a"], Unknown)
    assert isinstance(decoded["b"], Unknown)
    assert isinstance(decoded["c"], Unknown)
    assert decoded["d"] == 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "a = var.x",
            'invalid expression for variable "a": <decode_tfvars argument>:1,5-8: Variables not '
            "allowed; Variables may not be used here.",
        ),
        ("a = local.x.y", "<decode_tfvars argument>:1,5-10: Variables not allowed"),
        ("a = [var.x]", "<decode_tfvars argument>:1,6-9: Variables not allowed"),
        (
            'a = upper("x")',
            'invalid expression for variable "a": <decode_tfvars argument>:1,5-15: Function calls '
            "not allowed; Functions may not be called here.",
        ),
        (
            "a { }",
            'invalid tfvars content: <decode_tfvars argument>:1,1-2: Unexpected "a" block; Blocks '
            "are not allowed here.",
        ),
        (
            "a = 1\na = 2",
            "invalid tfvars syntax: <decode_tfvars argument>:2,1-2: Attribute redefined; The "
            'argument "a" was already set at <decode_tfvars argument>:1,1-2. Each argument may be '
            "set only once.",
        ),
        ("a = ", "invalid tfvars syntax: <decode_tfvars argument>:1,5"),
    ],
)
def test_decode_tfvars_errors(text: str, message: str) -> None:
    found = error("decode_tfvars", text)
    assert found.startswith('Call to function "provider::terraform::decode_tfvars" failed: ')
    assert message in found


def test_decode_tfvars_inverts_encode_tfvars() -> None:
    value = {"a": 1, "b": {"c": ["x", None, True]}, "d": "$${y}\n"}
    assert call("decode_tfvars", call("encode_tfvars", value)) == value


tfvars_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(tfvars_values)
def test_decode_tfvars_reads_what_encode_tfvars_writes(value: Value) -> None:
    decoded = call("decode_tfvars", call("encode_tfvars", {"x": value}))
    # Unknown where the project's parser cannot read what Terraform can (non-ASCII names).
    assert isinstance(decoded, Unknown) or decoded == {"x": value}
