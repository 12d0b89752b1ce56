"""The Terraform function library, pinned to the examples in Terraform's function docs."""

from __future__ import annotations

import base64
import gzip
import json
import os
import urllib.parse
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from templater.engine.functions import FUNCTIONS, FunctionContext
from templater.engine.values import Unknown, Value

from .conftest import call, error, no_templates

# The examples from developer.hashicorp.com/terraform/language/functions/*.
DOCUMENTED: list[tuple[str, tuple[Value, ...], Value]] = [
    # strings
    ("format", ("Hello, %s!", "Ander"), "Hello, Ander!"),
    ("format", ("There are %d lights", 4), "There are 4 lights"),
    ("format", ("%#v", "hello"), '"hello"'),
    ("format", ("%#v", True), "true"),
    ("format", ("%#v", 1), "1"),
    ("format", ("%#v", {"a": 1}), '{"a":1}'),
    ("format", ("%#v", [True]), "[true]"),
    ("format", ("%#v", None), "null"),
    (
        "formatlist",
        ("Hello, %s!", ["Valentina", "Ander", "Olivia", "Sam"]),
        ["Hello, Valentina!", "Hello, Ander!", "Hello, Olivia!", "Hello, Sam!"],
    ),
    (
        "formatlist",
        ("%s, %s!", "Salutations", ["Valentina", "Ander"]),
        ["Salutations, Valentina!", "Salutations, Ander!"],
    ),
    ("lower", ("HELLO",), "hello"),
    ("lower", ("АЛЛО!",), "алло!"),
    ("upper", ("hello",), "HELLO"),
    ("upper", ("алло!",), "АЛЛО!"),
    ("title", ("hello world",), "Hello World"),
    ("replace", ("1 + 2 + 3", "+", "-"), "1 - 2 - 3"),
    ("replace", ("hello world", "/w.*d/", "everybody"), "hello everybody"),
    ("join", ("-", ["foo", "bar", "baz"]), "foo-bar-baz"),
    ("join", (", ", ["foo", "bar", "baz"]), "foo, bar, baz"),
    ("join", (", ", ["foo"]), "foo"),
    ("split", (",", "foo,bar,baz"), ["foo", "bar", "baz"]),
    ("split", (",", "foo"), ["foo"]),
    ("split", (",", ""), [""]),
    ("trimspace", ("  hello\n\n",), "hello"),
    ("trim", ("?!hello?!", "!?"), "hello"),
    ("trim", ("foobar", "far"), "oob"),
    ("trim", ("   hello! world.!  ", "! "), "hello! world."),
    ("trimprefix", ("helloworld", "hello"), "world"),
    ("trimprefix", ("helloworld", "cat"), "helloworld"),
    ("trimsuffix", ("helloworld", "world"), "hello"),
    ("chomp", ("hello\n",), "hello"),
    ("chomp", ("hello\r\n",), "hello"),
    ("chomp", ("hello\n\n",), "hello"),
    ("indent", (2, "[\n  foo,\n  bar,\n]\n"), "[\n    foo,\n    bar,\n  ]\n  "),
    ("substr", ("hello world", 1, 4), "ello"),
    ("substr", ("🤔🤷", 0, 1), "🤔"),
    ("substr", ("hello world", -5, -1), "world"),
    ("substr", ("hello world", 6, 10), "world"),
    ("strrev", ("hello",), "olleh"),
    ("strrev", ("a ☃",), "☃ a"),
    ("strcontains", ("hello world", "wor"), True),
    ("strcontains", ("hello world", "wod"), False),
    ("startswith", ("hello world", "hello"), True),
    ("startswith", ("hello world", "world"), False),
    ("endswith", ("hello world", "world"), True),
    ("endswith", ("hello world", "hello"), False),
    ("regex", ("[a-z]+", "53453453.345345aaabbbccc23454"), "aaabbbccc"),
    ("regex", (r"(\d\d\d\d)-(\d\d)-(\d\d)", "2019-02-01"), ["2019", "02", "01"]),
    (
        "regex",
        ("^(?:(?P<scheme>[^:/?#]+):)?(?://(?P<authority>[^/?#]*))?", "https://example.com/docs/"),
        {"authority": "example.com", "scheme": "https"},
    ),
    ("regexall", ("[a-z]+", "1234abcd5678efgh9"), ["abcd", "efgh"]),
    ("regexall", ("[a-z]+", "123456789"), []),
    # collections
    ("coalesce", ("a", "b"), "a"),
    ("coalesce", ("", "b"), "b"),
    ("coalesce", (1, 2), 1),
    ("coalesce", (1, "hello"), "1"),
    ("coalesce", (True, "hello"), "true"),
    ("coalescelist", (["a", "b"], ["c", "d"]), ["a", "b"]),
    ("coalescelist", ([], ["c", "d"]), ["c", "d"]),
    ("lookup", ({"a": "ay", "b": "bee"}, "a", "what?"), "ay"),
    ("lookup", ({"a": "ay", "b": "bee"}, "c", "what?"), "what?"),
    ("merge", ({"a": "b", "c": "d"}, {"e": "f", "c": "z"}), {"a": "b", "c": "z", "e": "f"}),
    ("merge", ({"a": "b"}, {"a": [1, 2], "c": "z"}, {"d": 3}), {"a": [1, 2], "c": "z", "d": 3}),
    ("concat", (["a", ""], ["b", "c"]), ["a", "", "b", "c"]),
    ("length", ([],), 0),
    ("length", (["a", "b"],), 2),
    ("length", ({"a": "b"},), 1),
    ("length", ("hello",), 5),
    ("length", ("👾🕹️",), 2),
    ("contains", (["a", "b", "c"], "a"), True),
    ("contains", (["a", "b", "c"], "d"), False),
    ("keys", ({"a": 1, "c": 2, "d": 3},), ["a", "c", "d"]),
    ("values", ({"a": 3, "c": 2, "d": 1},), [3, 2, 1]),
    ("element", (["a", "b", "c"], 1), "b"),
    ("element", (["a", "b", "c"], 3), "a"),
    ("element", (["a", "b", "c"], -1), "c"),
    ("index", (["a", "b", "c"], "b"), 1),
    ("slice", (["a", "b", "c", "d"], 1, 3), ["b", "c"]),
    ("reverse", ([1, 2, 3],), [3, 2, 1]),
    ("flatten", ([["a", "b"], [], ["c"]],), ["a", "b", "c"]),
    ("flatten", ([[["a", "b"], []], ["c"]],), ["a", "b", "c"]),
    ("distinct", (["a", "b", "a", "c", "d", "b"],), ["a", "b", "c", "d"]),
    ("sort", (["e", "d", "a", "x"],), ["a", "d", "e", "x"]),
    ("compact", (["a", "", "b", None, "c"],), ["a", "b", "c"]),
    ("zipmap", (["a", "b"], [1, 2]), {"a": 1, "b": 2}),
    ("chunklist", (["a", "b", "c", "d", "e"], 2), [["a", "b"], ["c", "d"], ["e"]]),
    ("chunklist", (["a", "b", "c", "d", "e"], 1), [["a"], ["b"], ["c"], ["d"], ["e"]]),
    ("transpose", ({"a": ["1", "2"], "b": ["2", "3"]},), {"1": ["a"], "2": ["a", "b"], "3": ["b"]}),
    (
        "matchkeys",
        (["i-123", "i-abc", "i-def"], ["us-west", "us-east", "us-east"], ["us-east"]),
        ["i-abc", "i-def"],
    ),
    ("setunion", (["a", "b"], ["b", "c"], ["d"]), ["a", "b", "c", "d"]),
    ("setintersection", (["a", "b"], ["b", "c"], ["b", "d"]), ["b"]),
    ("setsubtract", (["a", "b", "c"], ["a", "c"]), ["b"]),
    ("range", (3,), [0, 1, 2]),
    ("range", (1, 4), [1, 2, 3]),
    ("range", (1, 8, 2), [1, 3, 5, 7]),
    ("range", (1, 4, 0.5), [1, 1.5, 2, 2.5, 3, 3.5]),
    ("range", (4, 1), [4, 3, 2]),
    ("range", (10, 5, -2), [10, 8, 6]),
    ("one", ([],), None),
    ("one", (["hello"],), "hello"),
    ("alltrue", (["true", True],), True),
    ("alltrue", ([True, False],), False),
    ("anytrue", (["true"],), True),
    ("anytrue", ([True, False],), True),
    ("anytrue", ([],), False),
    ("sum", ([10, 13, 6, 4.5],), 33.5),
    # numbers
    ("min", (12, 54, 3), 3),
    ("max", (12, 54, 3), 54),
    ("abs", (23,), 23),
    ("abs", (0,), 0),
    ("abs", (-12.4,), 12.4),
    ("ceil", (5,), 5),
    ("ceil", (5.1,), 6),
    ("floor", (5,), 5),
    ("floor", (4.9,), 4),
    ("pow", (3, 2), 9),
    ("pow", (4, 0), 1),
    ("log", (50, 10), 1.6989700043360185),
    ("log", (16, 2), 4),
    ("signum", (-13,), -1),
    ("signum", (0,), 0),
    ("signum", (344,), 1),
    ("parseint", ("100", 10), 100),
    ("parseint", ("FF", 16), 255),
    ("parseint", ("-10", 16), -16),
    ("parseint", ("1011111011101111", 2), 48879),
    ("parseint", ("aA", 62), 656),
    # conversion
    ("tostring", ("hello",), "hello"),
    ("tostring", (1,), "1"),
    ("tostring", (True,), "true"),
    ("tostring", (None,), None),
    ("tonumber", (1,), 1),
    ("tonumber", ("1",), 1),
    ("tonumber", (None,), None),
    ("tobool", (True,), True),
    ("tobool", ("true",), True),
    ("tobool", (None,), None),
    ("tolist", (["a", "b", "c"],), ["a", "b", "c"]),
    ("tolist", (["a", "b", 3],), ["a", "b", "3"]),
    ("toset", (["a", "b", 3],), ["3", "a", "b"]),
    ("toset", (["c", "b", "b"],), ["b", "c"]),
    ("tomap", ({"a": 1, "b": 2},), {"a": 1, "b": 2}),
    ("tomap", ({"a": "foo", "b": True},), {"a": "foo", "b": "true"}),
    # encoding
    ("jsonencode", ({"hello": "world"},), '{"hello":"world"}'),
    ("jsondecode", ('{"hello": "world"}',), {"hello": "world"}),
    ("jsondecode", ("true",), True),
    ("urlencode", ("Hello World!",), "Hello+World%21"),
    ("urlencode", ("☃",), "%E2%98%83"),
    ("base64encode", ("Hello World",), "SGVsbG8gV29ybGQ="),
    ("base64decode", ("SGVsbG8gV29ybGQ=",), "Hello World"),
    ("md5", ("hello world",), "5eb63bbbe01eeed093cb22bb8f5acdc3"),
    ("sha1", ("hello world",), "2aae6c35c94fcfb415dbe95f408b9ce91ee846ed"),
    (
        "sha256",
        ("hello world",),
        "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9",
    ),
    (
        "sha512",
        ("hello world",),
        "309ecc489c12d6eb4cc40f50c902f2b4d0ed77ee511a7c7a9bcd3ca86d4cd86f"
        "989dd35bc5ff499670da34255b45b0cfd830e81f605dcf7dc5542e93ae9cd76f",
    ),
    ("base64sha256", ("hello world",), "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="),
    # time
    ("timeadd", ("2017-11-22T00:00:00Z", "10m"), "2017-11-22T00:10:00Z"),
    ("formatdate", ("DD MMM YYYY hh:mm ZZZ", "2018-01-02T23:12:01Z"), "02 Jan 2018 23:12 UTC"),
    (
        "formatdate",
        ("EEEE, DD-MMM-YY hh:mm:ss ZZZ", "2018-01-02T23:12:01Z"),
        "Tuesday, 02-Jan-18 23:12:01 UTC",
    ),
    (
        "formatdate",
        ("EEE, DD MMM YYYY hh:mm:ss ZZZ", "2018-01-02T23:12:01-08:00"),
        "Tue, 02 Jan 2018 23:12:01 -0800",
    ),
    ("formatdate", ("MMM DD, YYYY", "2018-01-02T23:12:01Z"), "Jan 02, 2018"),
    ("formatdate", ("HH:mmaa", "2018-01-02T23:12:01Z"), "11:12pm"),
    ("formatdate", ("h'h'mm", "2018-01-02T23:12:01-08:00"), "23h12"),
    ("formatdate", ("H 'o''clock'", "2018-01-02T23:12:01-08:00"), "11 o'clock"),
    # paths
    ("basename", ("foo/bar/baz.txt",), "baz.txt"),
    ("dirname", ("foo/bar/baz.txt",), "foo/bar"),
]


@pytest.mark.parametrize(("name", "args", "expected"), DOCUMENTED)
def test_documented_examples(name: str, args: tuple[Value, ...], expected: Value) -> None:
    result = call(name, *args)
    assert result == expected
    assert type(result) is type(expected)


# The documented error cases, and others a template author is likely to hit.
ERRORS: list[tuple[str, tuple[Value, ...], str]] = [
    (
        "regex",
        ("[a-z]+", "53453453.34534523454"),
        'Call to function "regex" failed: pattern did not match any part of the given string',
    ),
    (
        "coalesce",
        ({}, "hello"),
        'Call to function "coalesce" failed: all arguments must have the same type',
    ),
    ("coalesce", (None, ""), "no non-null, non-empty-string arguments"),
    ("coalescelist", (None, []), "no non-null arguments"),
    (
        "one",
        (["hello", "goodbye"],),
        'Invalid value for "list" parameter: must be a list, set, or tuple value with either zero or one elements',
    ),
    (
        "parseint",
        ("12", 2),
        'Invalid value for "number" parameter: cannot parse "12" as a base 2 integer',
    ),
    (
        "parseint",
        (12, 10),
        'Invalid value for "number" parameter: first argument must be a string, not number 12',
    ),
    ("parseint", ("1", 63), "base must be a whole number between 2 and 62 inclusive"),
    ("parseint", ("0x10", 16), 'cannot parse "0x10" as a base 16 integer'),
    ("parseint", ("1_0", 10), 'cannot parse "1_0" as a base 10 integer'),
    (
        "tonumber",
        ("no",),
        'Invalid value for "v" parameter: cannot convert "no" to number; '
        "given string must be a decimal representation of a number",
    ),
    (
        "tobool",
        ("no",),
        'Invalid value for "v" parameter: cannot convert "no" to bool; '
        'only the strings "true" or "false" are allowed',
    ),
    ("tostring", ([],), 'Invalid value for "v" parameter: a string is required, got tuple'),
    ("tolist", ([1, True],), "all list elements must have the same type"),
    ("lookup", ({"a": 1}, "b"), 'Call to function "lookup" failed: lookup failed to find key "b"'),
    (
        "lookup",
        (["a"], "b"),
        'Invalid value for "inputMap" parameter: a map is required, got tuple',
    ),
    ("element", ([], 0), "cannot use element function with an empty list"),
    (
        "element",
        (["a"], 0.5),
        'Invalid value for "index" parameter: a whole number is required, got number 0.5',
    ),
    ("index", (["a"], "b"), "item not found"),
    ("index", ([], "b"), "cannot search an empty list"),
    ("length", (5,), "argument must be a string, a collection type, or a structural type"),
    ("length", (True,), "argument must be a string, a collection type, or a structural type"),
    (
        "merge",
        ({"a": 1}, "x"),
        'Invalid value for "maps" parameter: arguments must be maps or objects, got string "x"',
    ),
    (
        "concat",
        (["a"], "b"),
        'Invalid value for "seqs" parameter: a list is required, got string "b"',
    ),
    ("slice", (["a", "b"], 1, 3), "end index must not be greater than the length of the list"),
    ("slice", (["a", "b"], -1, 1), "start index must not be less than zero"),
    ("slice", (["a", "b"], 2, 1), "start index must not be greater than end index"),
    ("range", (1, 4, 0), "step must not be zero"),
    ("range", (1, 4, -1), "end must be less than start when step is negative"),
    ("range", (4, 1, 1), "end must be greater than start when step is positive"),
    ("range", (2000,), "more than 1024 values were generated"),
    ("zipmap", (["a"], [1, 2]), "number of keys (1) does not match number of values (2)"),
    ("chunklist", (["a"], -1), "the size argument must be positive"),
    ("join", (",",), "at least one list is required"),
    ("join", (",", ["a", None]), "element 1 is null; cannot concatenate null values"),
    ("sort", (["a", None],), "given list element 1 is null; a null string cannot be sorted"),
    ("sum", ([],), "cannot sum an empty list"),
    ("sum", (["a"],), "argument must be list, set, or tuple of number values"),
    ("min", (), "must pass at least one number"),
    ("max", ("a",), 'Invalid value for "numbers" parameter: a number is required, got string "a"'),
    ("log", (-1, 10), "result is not a number"),
    ("pow", (-8, 0.5), "result is not a number"),
    ("signum", (0.5,), "a whole number is required, got number 0.5"),
    ("matchkeys", (["a"], ["x", "y"], ["x"]), "length of keys and values should be equal"),
    ("matchkeys", (["a"], [1], [[]]), "keys and searchset must be of the same type"),
    ("jsonencode", (float("inf"),), "cannot serialize infinity as JSON"),
    ("jsondecode", ("{",), 'Invalid value for "str" parameter: invalid JSON'),
    ("jsondecode", ("NaN",), "NaN is not a JSON value"),
    ("base64decode", ("SGVsbG8",), 'failed to decode base64 data "SGVsbG8"'),
    ("base64decode", ("/w==",), "the result of decoding the provided string is not valid UTF-8"),
    ("transpose", ({"a": ["1", None]},), "input list must not contain null string"),
    ("indent", (-1, "a"), "the number of spaces must not be negative"),
    (
        "timeadd",
        ("2017-11-22", "1h"),
        'Call to function "timeadd" failed: not a valid RFC3339 timestamp: missing required '
        "time introducer 'T'",
    ),
    (
        "timeadd",
        ("2017-11-22T00:00:00Z", "1d"),
        'Call to function "timeadd" failed: time: unknown unit "d" in duration "1d"',
    ),
    (
        "timeadd",
        ("2017-13-22T00:00:00Z", "1h"),
        'not a valid RFC3339 timestamp: cannot use "-22T00:00:00Z" as month',
    ),
    ("formatdate", ("YYY", "2018-01-02T23:12:01Z"), 'invalid date format verb "YYY"'),
    ("formatdate", ("'abc", "2018-01-02T23:12:01Z"), "unterminated literal '"),
    ("pathexpand", ("~bob/x",), "cannot expand user-specific home dir"),
    (
        "replace",
        ("a", "/(/", "b"),
        'Invalid value for "substr" parameter: invalid regular expression "("',
    ),
    ("regex", ("(a)(?P<n>b)", "ab"), "cannot mix both named and unnamed capture groups"),
    ("regex", (r"\pL", "a"), "invalid regular expression"),
    ("regex", ("[[:nope:]]", "a"), "invalid regular expression"),
]


@pytest.mark.parametrize(("name", "args", "message"), ERRORS)
def test_errors(name: str, args: tuple[Value, ...], message: str) -> None:
    assert message in error(name, *args)


# --- calling: registry, arity, nulls -------------------------------------------------------------


def test_unknown_function() -> None:
    assert error("nosuch", 1) == 'Call to unknown function: There is no function named "nosuch".'


def test_arity_errors_in_terraform_wording() -> None:
    assert error("lower") == (
        'Not enough function arguments: function "lower" expects 1 argument(s); missing value for "str"'
    )
    assert (
        error("lower", "a", "b")
        == 'Too many function arguments: function "lower" expects only 1 argument(s)'
    )
    assert error("lookup", {}) == (
        'Not enough function arguments: function "lookup" expects at least 2 argument(s); '
        'missing value for "key"'
    )
    assert error("lookup", {}, "a", "b", "c") == (
        'Too many function arguments: function "lookup" expects at most 3 argument(s)'
    )
    assert "expects at least 1 argument(s)" in error("concat")


def test_null_arguments_are_refused_where_terraform_refuses_them() -> None:
    assert error("upper", None) == 'Invalid value for "str" parameter: argument must not be null'
    assert (
        error("join", ",", None) == 'Invalid value for "lists" parameter: argument must not be null'
    )
    assert call("jsonencode", None) == "null"
    assert call("merge", None, {"a": 1}) == {"a": 1}
    assert call("contains", ["a", None], None) is True
    assert call("format", "%v", None) == "null"


def test_strings_accept_numbers_and_bools_and_numbers_accept_numeric_strings() -> None:
    assert call("upper", True) == "TRUE"
    assert call("join", "-", [1, 2.5, True]) == "1-2.5-true"
    assert call("max", "3", 2) == 3
    assert call("substr", "hello", "1", "2") == "el"
    assert (
        error("upper", [1]) == 'Invalid value for "str" parameter: a string is required, got tuple'
    )
    assert (
        error("abs", "x")
        == 'Invalid value for "num" parameter: a number is required, got string "x"'
    )


def test_registry_is_consistent() -> None:
    for name, function in FUNCTIONS.items():
        assert function.name == name
        assert function.unknowns in ("deep", "shallow", "handles")
        assert function.min_args <= len(function.params) or not function.params
        if function.max_args is not None:
            assert function.max_args == len(function.params)
    assert not {"can", "try"} & FUNCTIONS.keys()


# --- unknown values ------------------------------------------------------------------------------


def test_deep_policy_makes_any_unknown_argument_unknown() -> None:
    assert isinstance(call("upper", Unknown("var.x")), Unknown)
    assert isinstance(call("join", ",", ["a", Unknown()]), Unknown)
    assert isinstance(call("jsonencode", {"a": [Unknown()]}), Unknown)
    assert isinstance(call("format", "%s-%s", "a", Unknown()), Unknown)
    assert isinstance(call("distinct", ["a", Unknown()]), Unknown)
    assert isinstance(call("compact", ["a", Unknown()]), Unknown)


def test_deep_policy_still_refuses_a_null_before_an_unknown() -> None:
    assert "must not be null" in error("replace", None, Unknown(), "x")


def test_shallow_policy_keeps_known_structure() -> None:
    agent = Unknown("coder_agent.dev.id")
    assert call("length", ["a", agent]) == 2
    assert call("concat", [agent], ["b"]) == [agent, "b"]
    assert call("merge", {"a": agent}, {"b": 1}) == {"a": agent, "b": 1}
    assert call("element", ["a", agent], 1) is agent
    assert call("keys", {"b": agent, "a": 1}) == ["a", "b"]
    assert call("values", {"b": agent, "a": 1}) == [1, agent]
    assert call("reverse", [agent, "a"]) == ["a", agent]
    assert call("slice", [agent, "a", "b"], 0, 2) == [agent, "a"]
    assert call("zipmap", ["a"], [agent]) == {"a": agent}
    assert call("one", [agent]) is agent
    assert call("tolist", [agent, "a"]) == [agent, "a"]
    assert call("tostring", agent) is not None
    assert isinstance(call("length", Unknown()), Unknown)
    assert isinstance(call("concat", Unknown(), ["a"]), Unknown)
    assert isinstance(call("flatten", [["a"], Unknown()]), Unknown)
    assert isinstance(call("zipmap", [Unknown()], ["a"]), Unknown)


def test_shallow_policy_boolean_lists() -> None:
    assert call("alltrue", [False, Unknown()]) is False
    assert isinstance(call("alltrue", [True, Unknown()]), Unknown)
    assert call("anytrue", [Unknown(), True]) is True
    assert isinstance(call("anytrue", [False, Unknown()]), Unknown)


def test_contains_is_known_when_an_element_matches() -> None:
    assert call("contains", ["a", Unknown()], "a") is True
    assert isinstance(call("contains", ["a", Unknown()], "b"), Unknown)
    assert call("contains", [], [Unknown()]) is False
    assert isinstance(call("contains", ["a"], [Unknown()]), Unknown)
    assert isinstance(call("contains", ["a"], Unknown()), Unknown)


def test_lookup_and_coalesce_look_only_as_far_as_they_need() -> None:
    assert call("lookup", {"a": 1, "b": Unknown()}, "a") == 1
    assert isinstance(call("lookup", {"a": 1}, Unknown()), Unknown)
    assert isinstance(call("lookup", Unknown(), "a"), Unknown)
    default = Unknown("var.d")
    assert call("lookup", {"a": 1}, "b", default) is default
    assert call("coalesce", "a", Unknown()) == "a"
    assert isinstance(call("coalesce", None, Unknown(), "a"), Unknown)
    assert call("coalescelist", ["a"], Unknown()) == ["a"]
    assert isinstance(call("coalescelist", [], Unknown()), Unknown)


def test_formatlist_makes_only_the_unknown_rows_unknown() -> None:
    rows = call("formatlist", "%s!", ["a", Unknown(), "c"])
    assert rows[0] == "a!"
    assert isinstance(rows[1], Unknown)
    assert rows[2] == "c!"
    assert isinstance(call("formatlist", "%s", Unknown()), Unknown)
    assert call("formatlist", "x") == ["x"]
    assert call("formatlist", "%s", []) == []
    assert "inconsistent with argument 1 of length 2" in error(
        "formatlist", "%s%s", ["a", "b"], ["c"]
    )


def test_values_not_known_before_apply() -> None:
    assert isinstance(call("uuid"), Unknown)
    assert isinstance(call("timestamp"), Unknown)


def test_sensitive_and_nonsensitive_pass_values_through() -> None:
    secret = Unknown("random_password.p.result")
    assert call("sensitive", "x") == "x"
    assert call("nonsensitive", secret) is secret
    assert call("sensitive", None) is None


# --- format --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "args", "expected"),
    [
        ("%5d|%-5d|%05d", (42, 42, 42), "   42|42   |00042"),
        ("%+d % d %d", (5, 5, -5), "+5  5 -5"),
        ("%x %X %o %b %#x %#o", (255, 255, 8, 5, 255, 8), "ff FF 10 101 0xff 010"),
        ("%.3d|%8.3d", (7, 7), "007|     007"),
        ("%d", ("12",), "12"),
        ("%.2f", (3.14159,), "3.14"),
        ("%f", (1,), "1.000000"),
        ("%8.2f|%-8.2f|%08.2f", (3.14159, 3.14159, -3.14159), "    3.14|3.14    |-0003.14"),
        ("%e", (1234.5678,), "1.234568e+03"),
        ("%E", (0,), "0.000000E+00"),
        ("%.3g", (1234.5678,), "1.23e+03"),
        ("%g", (100000,), "100000"),
        ("%g", (1000000,), "1e+06"),
        ("%g", (0.0001,), "0.0001"),
        ("%g", (0.00001,), "1e-05"),
        ("%v", (1234567,), "1.234567e+06"),
        ("%v", (1.5,), "1.5"),
        ("%v", (-2,), "-2"),
        ("%v", (True,), "true"),
        ("%v", (["a", 1],), '["a",1]'),
        ("%s", (1.5,), "1.5"),
        ("%s", (True,), "true"),
        ("%t", ("true",), "true"),
        ("%q", ("a<b\n",), '"a\\u003cb\\n"'),
        ("%10.3s|", ("abcdef",), "       abc|"),
        ("%-4s|%4s", ("é", "👾"), "é   |   👾"),
        ("%[2]s %[1]s %s", ("a", "b"), "b a b"),
        ("100%% %s", ("sure",), "100% sure"),
        ("no verbs", (), "no verbs"),
    ],
)
def test_format_verbs(spec: str, args: tuple[Value, ...], expected: str) -> None:
    assert call("format", spec, *args) == expected


@pytest.mark.parametrize(
    ("spec", "args", "message"),
    [
        ("%d", (1.5,), 'unsupported value for "%d" at 0: an integer is required'),
        ("%d", ("x",), 'unsupported value for "%d" at 0: a number is required, got string "x"'),
        ("%s", (None,), 'unsupported value for "%s" at 0: null value cannot be formatted'),
        ("%s %s", ("a",), 'not enough arguments for "%s" at 3: need index 2 but have 1 total'),
        (
            "x",
            ("a",),
            'Invalid value for "args" parameter: too many arguments; no verbs in format string',
        ),
        ("%s", ("a", "b"), "too many arguments; only 1 used by format string"),
        ("%y", (1,), "unsupported format verb 'y' in \"%y\" at offset 0"),
        ("abc%", (), "invalid format string starting at offset 3"),
        ("%!", (), "unrecognized format character '!' at offset 1"),
    ],
)
def test_format_errors(spec: str, args: tuple[Value, ...], message: str) -> None:
    assert message in error("format", spec, *args)


# --- regular expressions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("^abc$", "abc", "abc"),
        ("(?m)^b$", "a\nb\nc", "b"),
        ("(?sm:^b$)", "a\nb\nc", "b"),
        ("a(?i)b", "aB", "aB"),
        ("(x(?i)y)z", "xYz", ["xY"]),
        ("[[:alpha:]]+", "12abc3", "abc"),
        ("[[:digit:][:upper:]]+", "abC1D2e", "C1D2"),
        (r"\d+", "x٣12", "12"),
        ("(?<year>[0-9]{4})", "in 2024", {"year": "2024"}),
        (r"a\z", "a", "a"),
        (r"\Qa.b\E", "a.b", "a.b"),
        (r"\x{263a}", "☺", "☺"),
        ("(a)|(b)", "b", [None, "b"]),
        ("[]a]+", "a]a", "a]a"),
        ("[[a]+", "[a", "[a"),
    ],
)
def test_regex_reads_re2_syntax(pattern: str, text: str, expected: Value) -> None:
    assert call("regex", pattern, text) == expected


def test_regex_dollar_is_end_of_text_as_in_re2() -> None:
    assert "did not match" in error("regex", "^abc$", "abc\n")


def test_regexall_and_replace_drop_empty_matches_after_a_match_as_go_does() -> None:
    assert call("regexall", "a*", "baaac") == ["", "aaa", ""]
    assert call("replace", "abc", "/b*/", "-") == "-a-c-"
    assert call("replace", "abc", "/x*/", "-") == "-a-b-c-"


@pytest.mark.parametrize(
    ("replacement", "expected"),
    [
        ("[$1]", "a[b]c"),
        ("[${1}x]", "a[bx]c"),
        ("[$1x]", "a[]c"),
        ("[$$]", "a[$]c"),
        ("[${name}]", "a[b]c"),
        ("[$name]", "a[b]c"),
        ("[$2]", "a[]c"),
        ("[$01]", "a[]c"),
        ("[${]", "a[${]c"),
        ("[$-]", "a[$-]c"),
    ],
)
def test_replace_expands_groups_as_go_does(replacement: str, expected: str) -> None:
    assert call("replace", "abc", "/(?P<name>b)/", replacement) == expected


def test_replace_with_a_plain_string() -> None:
    assert call("replace", "a.b.c", ".", "-") == "a-b-c"
    assert call("replace", "ab", "", "-") == "-a-b-"
    assert call("replace", "a/b", "/", "|") == "a|b"


# --- strings and unicode -------------------------------------------------------------------------


def test_strings_count_what_a_reader_sees_as_characters() -> None:
    assert call("length", "e\u0301") == 1
    assert call("length", "🇩🇪🇫🇷") == 2
    assert call("length", "👨‍👩‍👧") == 1
    assert call("length", "👍🏽!") == 2
    assert call("length", "a\r\nb") == 3
    assert call("strrev", "🇩🇪🇫🇷") == "🇫🇷🇩🇪"
    assert call("substr", "e\u0301tude", 0, 2) == "e\u0301t"


def test_substr_edges() -> None:
    assert call("substr", "hello", 0, 0) == ""
    assert call("substr", "hello", 10, 2) == ""
    assert call("substr", "hello", -10, 2) == "he"
    assert call("substr", "hello", 1, -1) == "ello"


def test_case_follows_go() -> None:
    assert call("title", "hello_world-foo bar's") == "Hello_world-Foo Bar'S"
    assert call("upper", "straße") == "STRAßE"
    assert call("trimspace", "\x1fa\u3000") == "\x1fa"


def test_split_on_empty_separator_gives_characters() -> None:
    assert call("split", "", "abc") == ["a", "b", "c"]


# --- encoding ------------------------------------------------------------------------------------


def test_jsonencode_matches_terraform_formatting() -> None:
    value = {"b": [1, 2.5, True, None], "a": "<&>\u2028", "c": {}, "d": 1e20, "e": 1.5e-7}
    assert call("jsonencode", value) == (
        '{"a":"\\u003c\\u0026\\u003e\\u2028","b":[1,2.5,true,null],"c":{},'
        '"d":100000000000000000000,"e":0.00000015}'
    )
    assert call("jsonencode", "é\t") == '"é\\t"'


def test_jsondecode_gives_terraform_numbers() -> None:
    assert call("jsondecode", '{"a": 1.0, "b": 1.5, "c": [1e2]}') == {"a": 1, "b": 1.5, "c": [100]}


def test_base64gzip_is_gzip_as_go_writes_it() -> None:
    data = base64.b64decode(call("base64gzip", "hello world"))
    assert data[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    assert gzip.decompress(data) == b"hello world"


def test_base64decode_skips_line_breaks() -> None:
    assert call("base64decode", "SGVs\nbG8=") == "Hello"


# --- time ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timestamp", "duration", "expected"),
    [
        ("2017-11-22T00:00:00Z", "1h30m", "2017-11-22T01:30:00Z"),
        ("2017-11-22T00:00:00+01:00", "-90m", "2017-11-21T22:30:00+01:00"),
        ("2017-11-22T00:00:00.5Z", "0.6s", "2017-11-22T00:00:01Z"),
        ("2017-11-22T00:00:00Z", "1.5h", "2017-11-22T01:30:00Z"),
        ("2017-11-22T00:00:00Z", "0", "2017-11-22T00:00:00Z"),
        ("2017-11-22T00:00:00Z", "-1ms", "2017-11-21T23:59:59Z"),
        ("2017-11-22T00:00:00-00:00", "24h", "2017-11-23T00:00:00Z"),
    ],
)
def test_timeadd(timestamp: str, duration: str, expected: str) -> None:
    assert call("timeadd", timestamp, duration) == expected


def test_formatdate_zones() -> None:
    stamp = "2018-01-02T03:04:05+05:30"
    assert call("formatdate", "Z|ZZZ|ZZZZ|ZZZZZ", stamp) == "+05:30|+0530|+0530|+05:30"
    assert call("formatdate", "Z|ZZZ|ZZZZ|ZZZZZ", "2018-01-02T03:04:05Z") == "Z|UTC|+0000|+00:00"
    assert call("formatdate", "M/D h:m:s aa", stamp) == "1/2 3:4:5 am"


# --- files ---------------------------------------------------------------------------------------


@pytest.fixture
def module(tmp_path: Path) -> Path:
    (tmp_path / "hello.txt").write_bytes(b"Hello\r\nWorld\n")
    (tmp_path / "binary.bin").write_bytes(b"\xff\xfe\x00")
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "a.txt").write_text("a")
    (tmp_path / "files" / "b.sh").write_text("b")
    (tmp_path / "files" / "sub").mkdir()
    (tmp_path / "files" / "sub" / "c.txt").write_text("c")
    (tmp_path / "init.tftpl").write_text("hello ${name}")
    return tmp_path


def test_file_reads_relative_to_the_module_as_it_is(module: Path) -> None:
    ctx = FunctionContext(module, no_templates)
    assert call("file", "hello.txt", ctx=ctx) == "Hello\r\nWorld\n"
    assert call("file", "./files/../hello.txt", ctx=ctx) == "Hello\r\nWorld\n"
    assert call("file", str(module / "files" / "a.txt"), ctx=ctx) == "a"
    assert call("filebase64", "binary.bin", ctx=ctx) == "//4A"
    assert call("filesha256", "files/a.txt", ctx=ctx) == call("sha256", "a")
    assert call("filemd5", "files/a.txt", ctx=ctx) == call("md5", "a")
    assert call("filebase64sha512", "files/a.txt", ctx=ctx) == call("base64sha512", "a")


def test_file_errors_name_the_path(module: Path) -> None:
    ctx = FunctionContext(module, no_templates)
    assert error("file", "missing.txt", ctx=ctx).startswith(
        'Invalid value for "path" parameter: no file exists at "missing.txt"'
    )
    assert 'contents of "binary.bin" are not valid UTF-8' in error("file", "binary.bin", ctx=ctx)
    assert 'failed to read file "files"' in error("file", "files", ctx=ctx)


def test_reads_go_through_the_context(module: Path) -> None:
    reads: list[Path] = []

    def read_text(path: Path) -> str:
        reads.append(path)
        return "cached"

    ctx = FunctionContext(module, no_templates, read_text=read_text)
    assert call("file", "anything.txt", ctx=ctx) == "cached"
    assert reads == [module / "anything.txt"]


def test_fileexists(module: Path) -> None:
    ctx = FunctionContext(module, no_templates)
    assert call("fileexists", "hello.txt", ctx=ctx) is True
    assert call("fileexists", "nope.txt", ctx=ctx) is False
    assert '"files" is a directory, not a file' in error("fileexists", "files", ctx=ctx)


def test_fileset(module: Path) -> None:
    ctx = FunctionContext(module, no_templates)
    assert call("fileset", "files", "*.txt", ctx=ctx) == ["a.txt"]
    assert call("fileset", "files", "**/*.txt", ctx=ctx) == ["a.txt", "sub/c.txt"]
    assert call("fileset", "files", "{a,b}.*", ctx=ctx) == ["a.txt", "b.sh"]
    assert call("fileset", "files", "[!a].*", ctx=ctx) == ["b.sh"]
    assert call("fileset", "files", "?.txt", ctx=ctx) == ["a.txt"]
    assert call("fileset", "files", "**", ctx=ctx) == ["a.txt", "b.sh", "sub/c.txt"]
    assert call("fileset", ".", "files/sub/*", ctx=ctx) == ["files/sub/c.txt"]
    assert call("fileset", "nowhere", "*", ctx=ctx) == []


def test_templatefile_renders_through_the_evaluator(module: Path) -> None:
    seen: list[tuple[str, dict[str, Value], str]] = []

    def render(text: str, variables: dict[str, Value], file_name: str) -> Value:
        seen.append((text, variables, file_name))
        return "rendered"

    ctx = FunctionContext(module, render)
    unknown = Unknown("coder_agent.dev.token")
    assert (
        call("templatefile", "init.tftpl", {"name": "x", "token": unknown}, ctx=ctx) == "rendered"
    )
    assert seen == [("hello ${name}", {"name": "x", "token": unknown}, str(module / "init.tftpl"))]
    assert isinstance(call("templatefile", "init.tftpl", Unknown(), ctx=ctx), Unknown)
    assert "invalid vars value: must be a map" in error("templatefile", "init.tftpl", [], ctx=ctx)
    assert 'invalid template variable name "1x"' in error(
        "templatefile", "init.tftpl", {"1x": 1}, ctx=ctx
    )
    assert 'invalid template variable name "²"' in error(
        "templatefile", "init.tftpl", {"²": 1}, ctx=ctx
    )
    assert call("templatefile", "init.tftpl", {"_a": 1, "a-b": 2}, ctx=ctx) == "rendered"
    assert 'no file exists at "nope.tftpl"' in error("templatefile", "nope.tftpl", {}, ctx=ctx)


def test_path_functions() -> None:
    home = os.path.expanduser("~")
    assert call("pathexpand", "~/.ssh/id_rsa") == home + "/.ssh/id_rsa"
    assert call("pathexpand", "/etc/resolv.conf") == "/etc/resolv.conf"
    assert call("abspath", "/a/b/../c") == "/a/c"
    assert call("abspath", "x") == os.getcwd() + "/x"
    assert call("basename", "foo/bar/") == "bar"
    assert call("basename", "") == "."
    assert call("basename", "/") == "/"
    assert call("dirname", "baz") == "."
    assert call("dirname", "/baz") == "/"
    assert call("dirname", "foo//bar/") == "foo/bar"


# --- properties ----------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(json_values)
def test_jsondecode_inverts_jsonencode(value: Value) -> None:
    encoded = call("jsonencode", value)
    assert call("jsondecode", encoded) == value
    assert json.loads(encoded) == value


@given(st.text())
def test_base64_and_urlencode_round_trip(text: str) -> None:
    assert call("base64decode", call("base64encode", text)) == text
    assert urllib.parse.unquote_plus(call("urlencode", text)) == text


@given(
    st.text(alphabet=st.characters(max_codepoint=127, exclude_characters="\r")),
    st.integers(-20, 20),
    st.integers(-1, 20),
)
def test_substr_matches_slicing_on_ascii(text: str, offset: int, length: int) -> None:
    start = max(offset + len(text), 0) if offset < 0 else offset
    end = len(text) if length < 0 or (length == 0 and offset < 0) else start + length
    assert call("substr", text, offset, length) == text[start:end]
