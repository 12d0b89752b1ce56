"""Terraform type constraints and the conversions Terraform applies between values.

Values are untyped Python data (see :mod:`templater.engine.values`), so a list stands for a Terraform
list, tuple or set and a dict for a map or object. A :class:`TypeSpec` is what a ``type =``
argument or a function parameter asks for, and :func:`convert` makes a value fit it the way
cty's ``convert.Convert`` does: numbers and bools become strings, numeric strings become
numbers, tuples become lists, objects gain their optional attributes, and so on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from templater.engine.values import (
    EvalError,
    Number,
    Unknown,
    Value,
    is_number,
    normalize_number,
    render,
    to_template_string,
    type_name,
)

__all__ = [
    "ANY",
    "BOOL",
    "NUMBER",
    "STRING",
    "ConversionError",
    "Kind",
    "TypeSpec",
    "convert",
    "describe",
    "describe_value",
    "infer_type",
    "list_of",
    "map_of",
    "object_of",
    "parse_number",
    "set_of",
    "tuple_of",
    "unify",
    "value_key",
]

Kind = Literal["any", "string", "number", "bool", "list", "set", "map", "tuple", "object"]


@dataclass(frozen=True, slots=True)
class TypeSpec:
    """A Terraform type constraint such as ``list(string)`` or ``object({a = number})``.

    ``element`` is set for list, set and map; ``elements`` for tuple; ``attributes`` (sorted by
    name, as cty keeps them), ``optional`` and ``defaults`` for object. Build collections with
    :func:`list_of`, :func:`set_of`, :func:`map_of`, :func:`tuple_of` and :func:`object_of`.
    """

    kind: Kind
    element: TypeSpec | None = None
    elements: tuple[TypeSpec, ...] = ()
    attributes: tuple[tuple[str, TypeSpec], ...] = ()
    optional: frozenset[str] = frozenset()
    # Defaults may be lists or dicts, which cannot be hashed; equal specs still compare equal.
    defaults: tuple[tuple[str, Value], ...] = field(default=(), hash=False)

    def __str__(self) -> str:
        return describe(self)


ANY = TypeSpec("any")
STRING = TypeSpec("string")
NUMBER = TypeSpec("number")
BOOL = TypeSpec("bool")


def list_of(element: TypeSpec) -> TypeSpec:
    return TypeSpec("list", element=element)


def set_of(element: TypeSpec) -> TypeSpec:
    return TypeSpec("set", element=element)


def map_of(element: TypeSpec) -> TypeSpec:
    return TypeSpec("map", element=element)


def tuple_of(*elements: TypeSpec) -> TypeSpec:
    return TypeSpec("tuple", elements=elements)


def object_of(
    attributes: Mapping[str, TypeSpec],
    optional: Iterable[str] = (),
    defaults: Mapping[str, Value] | None = None,
) -> TypeSpec:
    """An object type; an attribute with a default is optional.

    Defaults are converted to their attribute's type here, once, as Terraform does when it
    reads the type constraint: a default that does not fit raises :class:`ConversionError`.
    """
    defaults = defaults or {}
    optional_names = frozenset(optional).union(defaults)
    strays = optional_names - attributes.keys()
    if strays:
        raise ValueError(f"optional attributes not declared: {sorted(strays)}")
    converted: list[tuple[str, Value]] = []
    for name in sorted(defaults):
        try:
            converted.append((name, convert(defaults[name], attributes[name])))
        except ConversionError as err:
            raise err.within(f".{name}") from None
    return TypeSpec(
        "object",
        attributes=tuple(sorted(attributes.items(), key=lambda item: item[0])),
        optional=optional_names,
        defaults=tuple(converted),
    )


class ConversionError(EvalError):
    """A value that does not fit a type; ``path`` says where inside the value (``.apps[1]``)."""

    def __init__(self, detail: str, path: str = "") -> None:
        super().__init__(f"{path}: {detail}" if path else detail)
        self.detail = detail
        self.path = path

    def within(self, step: str) -> ConversionError:
        """The same error seen from the value that contains this one at ``step``."""
        return ConversionError(self.detail, step + self.path)


def describe(spec: TypeSpec) -> str:
    """The type in Terraform syntax, as ``terraform console``'s ``type()`` prints it."""
    kind = spec.kind
    if spec.element is not None:
        return f"{kind}({describe(spec.element)})"
    if kind == "tuple":
        return "tuple([" + ",".join(describe(item) for item in spec.elements) + "])"
    if kind == "object":
        defaults = dict(spec.defaults)
        parts = []
        for name, attribute in spec.attributes:
            text = describe(attribute)
            if name in defaults:
                text = f"optional({text}, {render(defaults[name])})"
            elif name in spec.optional:
                text = f"optional({text})"
            parts.append(f"{name}={text}")
        return "object({" + ",".join(parts) + "})"
    return kind


def convert(value: Value, spec: TypeSpec) -> Value:
    """``value`` converted to fit ``spec``, or :class:`ConversionError`.

    Null fits every type and an unknown stays unknown; unknowns inside collections stay in
    place. A collection of ``any`` takes the single element type all its elements convert to.
    """
    if value is None or spec.kind == "any" or isinstance(value, Unknown):
        return value
    return _CONVERTERS[spec.kind](value, spec)


def _to_string(value: Value, spec: TypeSpec) -> str:
    if value is None or isinstance(value, (list, dict)):
        raise _mismatch(spec, value)
    return to_template_string(value)


def _to_number(value: Value, spec: TypeSpec) -> Number:
    if is_number(value):
        return value  # type: ignore[no-any-return]
    if isinstance(value, str):
        number = parse_number(value)
        if number is not None:
            return number
    raise _mismatch(spec, value)


def _to_bool(value: Value, spec: TypeSpec) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        # cty accepts "1" and "0" too, and hints at the spelling for "True" and the like.
        if value in ("true", "1"):
            return True
        if value in ("false", "0"):
            return False
        if value.lower() in ("true", "false"):
            raise ConversionError(
                f'a bool is required, got string {_short(value)}; use lowercase "{value.lower()}"'
            )
    raise _mismatch(spec, value)


def _to_list(value: Value, spec: TypeSpec) -> list[Value]:
    if not isinstance(value, list):
        raise _mismatch(spec, value)
    element = _element_type(value, spec)
    converted = []
    for index, item in enumerate(value):
        try:
            converted.append(convert(item, element))
        except ConversionError as err:
            raise err.within(f"[{index}]") from None
    return converted


def _to_set(value: Value, spec: TypeSpec) -> list[Value]:
    unique: dict[Hashable, Value] = {}
    for item in _to_list(value, spec):
        unique.setdefault(value_key(item), item)
    items = list(unique.values())
    # cty orders sets of strings and of numbers; other element types keep their order here.
    # Unknown and null elements are not comparable, so they go last.
    known = [item for item in items if item is not None and not isinstance(item, Unknown)]
    rest = [item for item in items if item is None or isinstance(item, Unknown)]
    if all(isinstance(item, str) for item in known) or all(is_number(item) for item in known):
        known.sort()
    return known + rest


def _to_tuple(value: Value, spec: TypeSpec) -> list[Value]:
    if not isinstance(value, list):
        raise _mismatch(spec, value)
    if len(value) != len(spec.elements):
        raise ConversionError(
            f"a tuple of {len(spec.elements)} elements is required, got {len(value)} elements"
        )
    converted = []
    for index, (item, element) in enumerate(zip(value, spec.elements, strict=True)):
        try:
            converted.append(convert(item, element))
        except ConversionError as err:
            raise err.within(f"[{index}]") from None
    return converted


def _to_map(value: Value, spec: TypeSpec) -> dict[str, Value]:
    if not isinstance(value, dict):
        raise _mismatch(spec, value)
    element = _element_type(list(value.values()), spec)
    converted = {}
    for key, item in value.items():
        try:
            converted[key] = convert(item, element)
        except ConversionError as err:
            raise err.within(f'["{key}"]') from None
    return converted


def _to_object(value: Value, spec: TypeSpec) -> dict[str, Value]:
    if not isinstance(value, dict):
        raise _mismatch(spec, value)
    converted: dict[str, Value] = {}
    missing = []
    for name, attribute in spec.attributes:
        item = value.get(name)
        if item is not None:
            try:
                converted[name] = convert(item, attribute)
            except ConversionError as err:
                raise err.within(f".{name}") from None
        elif name in spec.optional:
            # A default replaces a null as well as an absent attribute (Terraform 1.3+).
            converted[name] = next((d for n, d in spec.defaults if n == name), None)
        elif name in value:
            converted[name] = None
        else:
            missing.append(name)
    if missing:
        raise ConversionError(_missing_message(missing))
    return converted


_CONVERTERS: dict[str, Callable[[Value, TypeSpec], Value]] = {
    "string": _to_string,
    "number": _to_number,
    "bool": _to_bool,
    "list": _to_list,
    "set": _to_set,
    "tuple": _to_tuple,
    "map": _to_map,
    "object": _to_object,
}


def _element_type(items: list[Value], spec: TypeSpec) -> TypeSpec:
    """The element type to convert to: ``any`` becomes the type all elements share."""
    assert spec.element is not None
    if spec.element.kind != "any":
        return spec.element
    unified = unify([infer_type(item) for item in items])
    if unified is None:
        noun = "map" if spec.kind == "map" else spec.kind
        raise ConversionError(f"all {noun} elements must have the same type")
    return unified


def _missing_message(names: list[str]) -> str:
    quoted = [f'"{name}"' for name in names]
    if len(quoted) == 1:
        return f"attribute {quoted[0]} is required"
    return f"attributes {', '.join(quoted[:-1])} and {quoted[-1]} are required"


def _mismatch(spec: TypeSpec, value: Value) -> ConversionError:
    wanted = _friendly(spec)
    article = "an" if wanted[0] in "aeiou" else "a"
    return ConversionError(f"{article} {wanted} is required, got {describe_value(value)}")


def _friendly(spec: TypeSpec) -> str:
    """A type as cty names it in messages (``list of string``)."""
    if spec.element is not None:
        element = "any single type" if spec.element.kind == "any" else _friendly(spec.element)
        return f"{spec.kind} of {element}"
    return spec.kind


def describe_value(value: Value) -> str:
    """A value's type, with the value itself when it is short: ``string "abc"``, ``tuple``."""
    if isinstance(value, str):
        return f"string {_short(value)}"
    if isinstance(value, bool) or is_number(value):
        return f"{type_name(value)} {render(value)}"
    return type_name(value)


def _short(text: str) -> str:
    """A string quoted for a message, cut short so the message stays one readable line."""
    return render(text if len(text) <= 40 else text[:37] + "...")


_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def parse_number(text: str) -> Number | None:
    """The number a string spells in decimal (``"5"``, ``"-1.5"``, ``"1e3"``), else None.

    Only what cty accepts: no surrounding spaces, underscores, hex or ``inf``, all of which
    Python's own ``int()``/``float()`` would take.
    """
    if _INTEGER.fullmatch(text):
        return int(text)
    if not _DECIMAL.fullmatch(text):
        return None
    exact = Decimal(text)
    # Integral values stay exact ints; the exponent guard keeps "1e999999" from building a
    # million-digit int.
    if exact == exact.to_integral_value() and exact.adjusted() < 400:
        return int(exact)
    return normalize_number(float(exact))


def infer_type(value: Value) -> TypeSpec:
    """The type of a known value as Terraform infers it for a literal (tuples and objects).

    Null and unknown values fit any type, so they are ``any`` here.
    """
    if isinstance(value, str):
        return STRING
    if isinstance(value, bool):
        return BOOL
    if is_number(value):
        return NUMBER
    if isinstance(value, list):
        return TypeSpec("tuple", elements=tuple(infer_type(item) for item in value))
    if isinstance(value, dict):
        attributes = sorted(
            ((name, infer_type(item)) for name, item in value.items()), key=lambda pair: pair[0]
        )
        return TypeSpec("object", attributes=tuple(attributes))
    return ANY


def unify(types: Sequence[TypeSpec]) -> TypeSpec | None:
    """The one type all of ``types`` convert to, as cty's ``UnifyUnsafe`` picks it, or None.

    Mixed primitives unify to string when a string is among them; same-shaped tuples and
    objects unify member-wise, otherwise tuples fall back to a list and objects to a map.
    """
    known = [spec for spec in types if spec.kind != "any"]
    if not known:
        return ANY
    first = known[0]
    if all(spec == first for spec in known[1:]):
        return first
    kinds = {spec.kind for spec in known}
    if kinds <= {"string", "number", "bool"}:
        # number and bool both convert to string, but not to each other.
        return STRING if "string" in kinds else None
    if kinds == {"tuple"}:
        if all(len(spec.elements) == len(first.elements) for spec in known):
            columns = [
                unify([spec.elements[i] for spec in known]) for i in range(len(first.elements))
            ]
            return _all_or_none(columns, lambda items: TypeSpec("tuple", elements=tuple(items)))
        element = unify([item for spec in known for item in spec.elements])
        return None if element is None else list_of(element)
    if kinds == {"object"}:
        names = [name for name, _ in first.attributes]
        if all([name for name, _ in spec.attributes] == names for spec in known):
            columns = [unify([spec.attributes[i][1] for spec in known]) for i in range(len(names))]
            return _all_or_none(
                columns,
                lambda items: TypeSpec("object", attributes=tuple(zip(names, items, strict=True))),
            )
        element = unify([item for spec in known for _, item in spec.attributes])
        return None if element is None else map_of(element)
    if all(spec.element is not None for spec in known) and len(kinds) == 1:
        element = unify([spec.element for spec in known if spec.element is not None])
        return None if element is None else TypeSpec(first.kind, element=element)
    return None


def _all_or_none(
    items: list[TypeSpec | None], build: Callable[[list[TypeSpec]], TypeSpec]
) -> TypeSpec | None:
    present = [item for item in items if item is not None]
    return build(present) if len(present) == len(items) else None


def value_key(value: Value) -> Hashable:
    """A hashable key that is equal for values Terraform considers equal.

    Python's own equality says ``True == 1``; Terraform's does not, so the family is part of
    the key. Unknown values equal nothing, not even themselves in another place.
    """
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, bool):
        return ("b", value)
    if is_number(value):
        return ("n", value)
    if value is None:
        return ("null",)
    if isinstance(value, list):
        return ("l", tuple(value_key(item) for item in value))
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda pair: pair[0])
        return ("m", tuple((name, value_key(item)) for name, item in items))
    return ("u", id(value))
