"""Terraform type constraints and conversion (cty's convert package) as templater models them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from templater.engine.types import (
    ANY,
    BOOL,
    NUMBER,
    STRING,
    ConversionError,
    TypeSpec,
    convert,
    describe,
    infer_type,
    list_of,
    map_of,
    object_of,
    parse_number,
    set_of,
    tuple_of,
    unify,
    value_key,
)
from templater.engine.values import EvalError, Unknown, Value

# --- primitives ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "spec", "expected"),
    [
        ("5", NUMBER, 5),
        ("1.5", NUMBER, 1.5),
        ("-2", NUMBER, -2),
        ("+3", NUMBER, 3),
        ("1e3", NUMBER, 1000),
        ("2.50", NUMBER, 2.5),
        ("1.0", NUMBER, 1),
        (".5", NUMBER, 0.5),
        ("12345678901234567890123", NUMBER, 12345678901234567890123),
        (5, STRING, "5"),
        (1.5, STRING, "1.5"),
        (2.0, STRING, "2"),
        (True, STRING, "true"),
        (False, STRING, "false"),
        ("true", BOOL, True),
        ("false", BOOL, False),
        ("1", BOOL, True),
        ("0", BOOL, False),
        ("x", STRING, "x"),
        (7, NUMBER, 7),
        (True, BOOL, True),
    ],
)
def test_primitive_conversions(value: Value, spec: TypeSpec, expected: Value) -> None:
    result = convert(value, spec)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("value", "spec", "message"),
    [
        ("abc", NUMBER, 'a number is required, got string "abc"'),
        (" 5", NUMBER, 'a number is required, got string " 5"'),
        ("1_000", NUMBER, 'a number is required, got string "1_000"'),
        ("0x10", NUMBER, 'a number is required, got string "0x10"'),
        ("inf", NUMBER, 'a number is required, got string "inf"'),
        (True, NUMBER, "a number is required, got bool true"),
        ("yes", BOOL, 'a bool is required, got string "yes"'),
        ("True", BOOL, 'a bool is required, got string "True"; use lowercase "true"'),
        (1, BOOL, "a bool is required, got number 1"),
        ([1], STRING, "a string is required, got tuple"),
        ({"a": 1}, NUMBER, "a number is required, got object"),
        ("x" * 50, NUMBER, 'a number is required, got string "' + "x" * 37 + '..."'),
    ],
)
def test_primitive_conversion_errors(value: Value, spec: TypeSpec, message: str) -> None:
    with pytest.raises(ConversionError) as caught:
        convert(value, spec)
    assert caught.value.message == message
    assert isinstance(caught.value, EvalError)


def test_null_converts_to_null_for_every_type() -> None:
    for spec in (STRING, NUMBER, BOOL, list_of(STRING), map_of(ANY), object_of({"a": STRING})):
        assert convert(None, spec) is None


def test_unknown_stays_unknown_and_keeps_its_origin() -> None:
    agent_id = Unknown("coder_agent.dev.id")
    assert convert(agent_id, STRING) is agent_id
    converted = convert([agent_id, 1], list_of(STRING))
    assert converted[0] is agent_id
    assert converted[1] == "1"
    assert convert({"a": agent_id}, object_of({"a": NUMBER})) == {"a": agent_id}


def test_any_leaves_values_unchanged() -> None:
    value = {"a": [1, "x", True], "b": None}
    assert convert(value, ANY) is value


# --- collections ---------------------------------------------------------------------------------


def test_list_converts_its_elements() -> None:
    assert convert([1, "a", True], list_of(STRING)) == ["1", "a", "true"]
    assert convert(["1", "2"], list_of(NUMBER)) == [1, 2]


def test_set_removes_duplicates_and_sorts_strings_and_numbers() -> None:
    assert convert(["c", "b", "b", "a"], set_of(STRING)) == ["a", "b", "c"]
    assert convert([3, 1, 2, 1], set_of(NUMBER)) == [1, 2, 3]
    assert convert([1, "1"], set_of(STRING)) == ["1"]


def test_set_keeps_unknowns_apart_and_last() -> None:
    first, second = Unknown("a.id"), Unknown("b.id")
    assert convert([second, "b", first, "a"], set_of(STRING)) == ["a", "b", second, first]


def test_tuple_needs_the_right_number_of_elements() -> None:
    spec = tuple_of(STRING, NUMBER)
    assert convert([1, "2"], spec) == ["1", 2]
    with pytest.raises(ConversionError, match="a tuple of 2 elements is required, got 3 elements"):
        convert([1, 2, 3], spec)
    with pytest.raises(ConversionError, match=r'^\[1\]: a number is required, got string "x"$'):
        convert(["a", "x"], spec)


def test_map_converts_each_value() -> None:
    assert convert({"a": 1, "b": True}, map_of(STRING)) == {"a": "1", "b": "true"}
    with pytest.raises(ConversionError) as caught:
        convert({"a": "1", "b": "x"}, map_of(NUMBER))
    assert str(caught.value) == '["b"]: a number is required, got string "x"'


def test_sequences_and_mappings_do_not_interconvert() -> None:
    with pytest.raises(ConversionError, match="a list of string is required, got object"):
        convert({"a": "b"}, list_of(STRING))
    with pytest.raises(ConversionError, match="a map of string is required, got tuple"):
        convert(["a"], map_of(STRING))
    with pytest.raises(ConversionError, match="an object is required, got string"):
        convert("a", object_of({"a": STRING}))


def test_collection_of_any_unifies_element_types() -> None:
    # tolist(["a", "b", 3]) is ["a", "b", "3"] in Terraform: string is the common type.
    assert convert(["a", "b", 3], list_of(ANY)) == ["a", "b", "3"]
    assert convert([1, 2], list_of(ANY)) == [1, 2]
    assert convert({"a": 1, "b": "x"}, map_of(ANY)) == {"a": "1", "b": "x"}
    assert convert(["a", None, Unknown()], list_of(ANY))[:2] == ["a", None]
    with pytest.raises(ConversionError, match="all list elements must have the same type"):
        convert([1, True], list_of(ANY))
    with pytest.raises(ConversionError, match="all map elements must have the same type"):
        convert({"a": [], "b": "x"}, map_of(ANY))


# --- objects -------------------------------------------------------------------------------------

APP = object_of(
    {"slug": STRING, "port": NUMBER, "share": STRING, "tags": list_of(STRING)},
    optional=["tags"],
    defaults={"share": "owner"},
)


def test_object_fills_optional_attributes_and_drops_extra_ones() -> None:
    assert convert({"slug": "code", "port": "8080", "extra": 1}, APP) == {
        "port": 8080,
        "share": "owner",
        "slug": "code",
        "tags": None,
    }


def test_object_default_replaces_null_but_not_a_given_value() -> None:
    assert convert({"slug": "a", "port": 1, "share": None}, APP)["share"] == "owner"
    assert convert({"slug": "a", "port": 1, "share": "public"}, APP)["share"] == "public"


def test_required_attribute_may_be_null_but_not_missing() -> None:
    assert convert({"slug": None, "port": 1}, APP)["slug"] is None
    with pytest.raises(ConversionError, match=r'^attribute "slug" is required$'):
        convert({"port": 1}, APP)
    with pytest.raises(ConversionError, match=r'^attributes "port" and "slug" are required$'):
        convert({}, APP)
    three = object_of({"a": STRING, "b": STRING, "c": STRING})
    with pytest.raises(ConversionError, match=r'^attributes "a", "b" and "c" are required$'):
        convert({}, three)


def test_nested_errors_name_the_path() -> None:
    spec = object_of({"apps": list_of(object_of({"port": NUMBER}))})
    with pytest.raises(ConversionError) as caught:
        convert({"apps": [{"port": 1}, {"port": "abc"}]}, spec)
    assert str(caught.value) == '.apps[1].port: a number is required, got string "abc"'
    assert caught.value.detail == 'a number is required, got string "abc"'
    assert caught.value.path == ".apps[1].port"
    with pytest.raises(ConversionError, match=r'^\.apps\[0\]: attribute "port" is required$'):
        convert({"apps": [{}]}, spec)


def test_nested_object_defaults_apply_inside_collections() -> None:
    spec = list_of(object_of({"name": STRING, "enabled": BOOL}, defaults={"enabled": True}))
    assert convert([{"name": "a"}, {"name": "b", "enabled": "false"}], spec) == [
        {"enabled": True, "name": "a"},
        {"enabled": False, "name": "b"},
    ]


def test_object_of_converts_defaults_once_and_checks_names() -> None:
    spec = object_of({"port": NUMBER}, defaults={"port": "80"})
    assert spec.defaults == (("port", 80),)
    with pytest.raises(ConversionError, match=r'^\.port: a number is required, got string "http"$'):
        object_of({"port": NUMBER}, defaults={"port": "http"})
    with pytest.raises(ValueError, match="optional attributes not declared"):
        object_of({"a": STRING}, optional=["b"])


def test_type_specs_are_hashable_values() -> None:
    first = object_of({"a": list_of(STRING)}, defaults={"a": ["x"]})
    second = object_of({"a": list_of(STRING)}, defaults={"a": ["x"]})
    assert first == second
    assert hash(first) == hash(second)
    assert len({list_of(STRING), list_of(STRING), set_of(STRING)}) == 2


# --- describe ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        (ANY, "any"),
        (STRING, "string"),
        (list_of(STRING), "list(string)"),
        (set_of(NUMBER), "set(number)"),
        (map_of(list_of(BOOL)), "map(list(bool))"),
        (tuple_of(STRING, NUMBER), "tuple([string,number])"),
        (object_of({"b": NUMBER, "a": STRING}), "object({a=string,b=number})"),
        (
            object_of({"a": STRING, "b": NUMBER}, optional=["a"], defaults={"b": 1}),
            "object({a=optional(string),b=optional(number, 1)})",
        ),
    ],
)
def test_describe_gives_terraform_syntax(spec: TypeSpec, text: str) -> None:
    assert describe(spec) == text
    assert str(spec) == text


# --- parse_number, unify, value_key --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("-0.25", -0.25),
        ("1E2", 100),
        ("5.", 5),
        ("1e-3", 0.001),
        ("", None),
        ("1 ", None),
        ("nan", None),
        ("--1", None),
        ("1e", None),
        (".", None),
    ],
)
def test_parse_number(text: str, expected: float | None) -> None:
    assert parse_number(text) == expected


def test_parse_number_keeps_huge_exponents_cheap() -> None:
    assert parse_number("1e999999") == float("inf")


def test_infer_and_unify() -> None:
    assert infer_type(["a", 1]) == tuple_of(STRING, NUMBER)
    assert infer_type({"b": 1, "a": None}) == TypeSpec(
        "object", attributes=(("a", ANY), ("b", NUMBER))
    )
    assert unify([STRING, NUMBER, BOOL]) == STRING
    assert unify([NUMBER, BOOL]) is None
    assert unify([ANY, NUMBER]) == NUMBER
    assert unify([]) == ANY
    assert unify([tuple_of(STRING), tuple_of(NUMBER)]) == tuple_of(STRING)
    assert unify([tuple_of(STRING), tuple_of(NUMBER, NUMBER)]) == list_of(STRING)
    same = [infer_type({"a": 1}), infer_type({"a": "x"})]
    assert unify(same) == object_of({"a": STRING})
    assert unify([infer_type({"a": 1}), infer_type({"b": "x"})]) == map_of(STRING)
    assert unify([infer_type({"a": 1}), infer_type({"a": [1]})]) is None
    assert unify([infer_type({}), infer_type([])]) is None
    assert unify([list_of(NUMBER), list_of(STRING)]) == list_of(STRING)


def test_value_key_follows_terraform_equality() -> None:
    assert value_key(1) == value_key(1.0)
    assert value_key(True) != value_key(1)
    assert value_key("1") != value_key(1)
    assert value_key({"a": [1, None]}) == value_key({"a": [1.0, None]})
    unknown = Unknown()
    assert value_key(unknown) != value_key(Unknown())


# --- properties ----------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(st.integers())
def test_integers_round_trip_through_strings(number: int) -> None:
    assert convert(convert(number, STRING), NUMBER) == number


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_round_trip_through_strings(number: float) -> None:
    # Large integral floats come back as the exact integer their digits spell.
    assert float(convert(convert(number, STRING), NUMBER)) == number


@given(json_values)
def test_conversion_to_any_collection_is_idempotent(value: Value) -> None:
    for spec in (list_of(ANY), set_of(ANY), map_of(ANY)):
        try:
            once = convert(value, spec)
        except ConversionError:
            continue
        assert convert(once, spec) == once
