"""Collection functions, as Terraform's documentation groups them: lists, maps and sets (length,
lookup, merge, element, flatten, distinct, setunion, setproduct, ...), alltrue and anytrue, sum
and range.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from decimal import Decimal, localcontext

from templater.engine.functions.library import (
    STRINGS,
    Failure,
    FunctionContext,
    Param,
    as_bools,
    as_decimal,
    as_mapping,
    as_number,
    as_sequence,
    as_string,
    as_strings,
    as_whole,
    from_decimal,
    grapheme_count,
    register,
)
from templater.engine.types import (
    ANY,
    ConversionError,
    convert,
    describe_value,
    infer_type,
    list_of,
    map_of,
    set_of,
    unify,
    value_key,
)
from templater.engine.values import Number, Unknown, Value, is_wholly_known, render


@register("length", Param("value"), unknowns="shallow")
def _length_of(ctx: FunctionContext, value: Value) -> int:
    if isinstance(value, str):
        return grapheme_count(value)
    if isinstance(value, (list, dict)):
        return len(value)
    raise Failure("argument must be a string, a collection type, or a structural type", arg=0)


@register("coalesce", Param("vals", nullable=True), variadic=True, required=1, unknowns="handles")
def _coalesce(ctx: FunctionContext, *values: Value) -> Value:
    common = unify([infer_type(value) for value in values])
    if common is None:
        raise Failure("all arguments must have the same type")
    for value in values:
        if isinstance(value, Unknown):
            return Unknown()
        if value is None:
            continue
        value = convert(value, common)
        if common.kind == "string" and value == "":
            continue
        return value
    raise Failure("no non-null, non-empty-string arguments")


@register(
    "coalescelist", Param("vals", nullable=True), variadic=True, required=1, unknowns="handles"
)
def _coalescelist(ctx: FunctionContext, *values: Value) -> Value:
    for value in values:
        if isinstance(value, Unknown):
            return Unknown()
        if value is None:
            continue
        if not isinstance(value, list):
            raise Failure("coalescelist arguments must be lists or tuples")
        if value:
            return value
    raise Failure("no non-null arguments")


@register(
    "lookup",
    Param("inputMap", as_mapping),
    Param("key", as_string),
    Param("default", nullable=True),
    required=2,
    unknowns="handles",
)
def _lookup(ctx: FunctionContext, mapping: Value, key: Value, *default: Value) -> Value:
    if isinstance(mapping, Unknown) or isinstance(key, Unknown):
        return Unknown()
    if key in mapping:
        return mapping[key]
    if default:
        return default[0]
    raise Failure(f"lookup failed to find key {render(key)}")


@register("merge", Param("maps", nullable=True), variadic=True, unknowns="shallow")
def _merge(ctx: FunctionContext, *maps: Value) -> dict[str, Value]:
    merged: dict[str, Value] = {}
    for index, mapping in enumerate(maps):
        if mapping is None:
            continue
        if not isinstance(mapping, dict):
            raise Failure(
                f"arguments must be maps or objects, got {describe_value(mapping)}", arg=index
            )
        merged.update(mapping)
    return merged


@register("concat", Param("seqs", as_sequence), variadic=True, required=1, unknowns="shallow")
def _concat(ctx: FunctionContext, *lists: list[Value]) -> list[Value]:
    return [item for items in lists for item in items]


@register("contains", Param("list", as_sequence), Param("value", nullable=True), unknowns="shallow")
def _contains(ctx: FunctionContext, items: list[Value], value: Value) -> Value:
    if not items:
        return False
    if not is_wholly_known(value):
        return Unknown()
    key = value_key(value)
    unknown = False
    for item in items:
        if not is_wholly_known(item):
            unknown = True
        elif value_key(item) == key:
            return True
    return Unknown() if unknown else False


@register("keys", Param("inputMap", as_mapping), unknowns="shallow")
def _keys(ctx: FunctionContext, mapping: dict[str, Value]) -> list[str]:
    return sorted(mapping)


@register("values", Param("mapping", as_mapping), unknowns="shallow")
def _values(ctx: FunctionContext, mapping: dict[str, Value]) -> list[Value]:
    return [mapping[key] for key in sorted(mapping)]


@register("element", Param("list", as_sequence), Param("index", as_whole), unknowns="shallow")
def _element(ctx: FunctionContext, items: list[Value], index: int) -> Value:
    if not items:
        raise Failure("cannot use element function with an empty list")
    # Wraps around in both directions: Python's % already gives Go's adjusted remainder.
    return items[index % len(items)]


@register("index", Param("list", as_sequence), Param("value"))
def _index(ctx: FunctionContext, items: list[Value], value: Value) -> int:
    if not items:
        raise Failure("cannot search an empty list")
    key = value_key(value)
    for position, item in enumerate(items):
        if value_key(item) == key:
            return position
    raise Failure("item not found")


@register(
    "slice",
    Param("list", as_sequence),
    Param("start_index", as_whole),
    Param("end_index", as_whole),
    unknowns="shallow",
)
def _slice(ctx: FunctionContext, items: list[Value], start: int, end: int) -> list[Value]:
    for arg, index, what in ((1, start, "start"), (2, end, "end")):
        if index < 0:
            raise Failure(f"{what} index must not be less than zero", arg=arg)
        if index > len(items):
            raise Failure(f"{what} index must not be greater than the length of the list", arg=arg)
    if start > end:
        raise Failure("start index must not be greater than end index", arg=1)
    return items[start:end]


@register("reverse", Param("list", as_sequence), unknowns="shallow")
def _reverse(ctx: FunctionContext, items: list[Value]) -> list[Value]:
    return items[::-1]


@register("flatten", Param("list", as_sequence), unknowns="shallow")
def _flatten(ctx: FunctionContext, items: list[Value]) -> Value:
    flat: list[Value] = []
    # An unknown element could be a list, so the result's shape is unknown.
    return flat if _flatten_into(items, flat) else Unknown()


def _flatten_into(items: list[Value], flat: list[Value]) -> bool:
    for item in items:
        if isinstance(item, Unknown):
            return False
        if isinstance(item, list):
            if not _flatten_into(item, flat):
                return False
        else:
            flat.append(item)
    return True


@register("distinct", Param("list", as_sequence))
def _distinct(ctx: FunctionContext, items: list[Value]) -> list[Value]:
    unique: dict[Hashable, Value] = {}
    for item in items:
        unique.setdefault(value_key(item), item)
    return list(unique.values())


@register("sort", Param("list", as_strings))
def _sort(ctx: FunctionContext, items: list[str | None]) -> list[str]:
    strings: list[str] = []
    for index, item in enumerate(items):
        if item is None:
            raise Failure(f"given list element {index} is null; a null string cannot be sorted")
        strings.append(item)
    return sorted(strings)


@register("compact", Param("list", as_strings))
def _compact(ctx: FunctionContext, items: list[str | None]) -> list[str]:
    return [item for item in items if item]


@register("zipmap", Param("keys", as_strings), Param("values", as_sequence), unknowns="shallow")
def _zipmap(ctx: FunctionContext, keys: list[Value], values: list[Value]) -> Value:
    if not is_wholly_known(keys):
        return Unknown()
    if len(keys) != len(values):
        raise Failure(
            f"number of keys ({len(keys)}) does not match number of values ({len(values)})"
        )
    for index, key in enumerate(keys):
        if key is None:
            raise Failure(f"keys list has null value at index {index}", arg=0)
    return dict(zip(keys, values, strict=True))


@register("one", Param("list", as_sequence), unknowns="shallow")
def _one(ctx: FunctionContext, items: list[Value]) -> Value:
    if len(items) > 1:
        raise Failure("must be a list, set, or tuple value with either zero or one elements", arg=0)
    return items[0] if items else None


@register("chunklist", Param("list", as_sequence), Param("size", as_whole), unknowns="shallow")
def _chunklist(ctx: FunctionContext, items: list[Value], size: int) -> list[list[Value]]:
    if size < 0:
        raise Failure("the size argument must be positive", arg=1)
    if not items:
        return []
    if size == 0:
        return [items]
    return [items[start : start + size] for start in range(0, len(items), size)]


@register("transpose", Param("values", as_mapping))
def _transpose(ctx: FunctionContext, mapping: dict[str, Value]) -> dict[str, list[str]]:
    lists = convert(mapping, map_of(STRINGS))
    result: dict[str, list[str]] = {}
    for key in sorted(lists):
        if lists[key] is None:
            raise Failure("input must not contain null list")
        for item in lists[key]:
            if item is None:
                raise Failure("input list must not contain null string")
            result.setdefault(item, []).append(key)
    return {key: result[key] for key in sorted(result)}


@register(
    "matchkeys",
    Param("values", as_sequence),
    Param("keys", as_sequence),
    Param("searchset", as_sequence),
)
def _matchkeys(
    ctx: FunctionContext, values: list[Value], keys: list[Value], search: list[Value]
) -> list[Value]:
    if len(values) != len(keys):
        raise Failure("length of keys and values should be equal")
    # keys and searchset must share one element type; converting them together finds it.
    try:
        combined = convert(keys + search, list_of(ANY))
    except ConversionError:
        raise Failure("keys and searchset must be of the same type") from None
    wanted = {value_key(item) for item in combined[len(keys) :]}
    return [value for value, key in zip(values, combined, strict=False) if value_key(key) in wanted]


def _unified_sets(sets: Sequence[list[Value]]) -> list[list[Value]]:
    """The sets' elements converted to the one element type they share."""
    combined = convert([item for items in sets for item in items], list_of(ANY))
    out = []
    start = 0
    for items in sets:
        out.append(combined[start : start + len(items)])
        start += len(items)
    return out


@register(
    "setunion", Param("first_set", as_sequence), Param("other_sets", as_sequence), variadic=True
)
def _setunion(ctx: FunctionContext, *sets: list[Value]) -> Value:
    return convert([item for items in sets for item in items], set_of(ANY))


@register(
    "setintersection",
    Param("first_set", as_sequence),
    Param("other_sets", as_sequence),
    variadic=True,
)
def _setintersection(ctx: FunctionContext, *sets: list[Value]) -> Value:
    first, *others = _unified_sets(sets)
    shared = [{value_key(item) for item in items} for items in others]
    return convert(
        [item for item in first if all(value_key(item) in keys for keys in shared)], set_of(ANY)
    )


@register("setsubtract", Param("a", as_sequence), Param("b", as_sequence))
def _setsubtract(ctx: FunctionContext, a: list[Value], b: list[Value]) -> Value:
    kept, removed = _unified_sets([a, b])
    removed_keys = {value_key(item) for item in removed}
    return convert([item for item in kept if value_key(item) not in removed_keys], set_of(ANY))


@register("alltrue", Param("list", as_bools), unknowns="shallow")
def _alltrue(ctx: FunctionContext, items: list[Value]) -> Value:
    for item in items:
        if isinstance(item, Unknown):
            return Unknown()
        if not item:
            return False
    return True


@register("anytrue", Param("list", as_bools), unknowns="shallow")
def _anytrue(ctx: FunctionContext, items: list[Value]) -> Value:
    if any(item is True for item in items):
        return True
    return Unknown() if any(isinstance(item, Unknown) for item in items) else False


@register("sum", Param("list", as_sequence))
def _sum(ctx: FunctionContext, items: list[Value]) -> Number:
    if not items:
        raise Failure("cannot sum an empty list", arg=0)
    numbers = []
    for item in items:
        if item is None:
            raise Failure("argument must be list, set, or tuple of number values", arg=0)
        try:
            numbers.append(as_number(item))
        except ConversionError:
            raise Failure("argument must be list, set, or tuple of number values", arg=0) from None
    if all(isinstance(number, int) for number in numbers):
        return sum(numbers)
    # Decimal keeps 0.1 + 0.2 at 0.3, as Terraform's big floats do.
    with localcontext() as context:
        context.prec = 60
        return from_decimal(sum((as_decimal(number) for number in numbers), Decimal(0)))


@register(
    "range",
    Param("start", as_number),
    Param("limit", as_number),
    Param("step", as_number),
    required=1,
)
def _range(ctx: FunctionContext, *args: Number) -> list[Number]:
    start: Number
    limit: Number
    step: Number
    if len(args) == 1:
        start, limit, step = 0, args[0], (-1 if args[0] < 0 else 1)
    elif len(args) == 2:
        start, limit, step = args[0], args[1], (-1 if args[1] < args[0] else 1)
    else:
        start, limit, step = args
    if step == 0:
        raise Failure("step must not be zero", arg=2)
    if step < 0 and limit > start:
        raise Failure("end must be less than start when step is negative", arg=1)
    if step > 0 and limit < start:
        raise Failure("end must be greater than start when step is positive", arg=1)
    # Exact decimals, so range(0, 1, 0.1) steps by exactly 0.1 as Terraform's big floats do.
    current, end, increment = as_decimal(start), as_decimal(limit), as_decimal(step)
    values: list[Number] = []
    while (current < end) if increment > 0 else (current > end):
        if len(values) >= 1024:
            raise Failure(
                "more than 1024 values were generated; either decrease the difference between "
                "start and end or use a smaller step"
            )
        values.append(from_decimal(current))
        current += increment
    return values


@register("setproduct", Param("sets"), variadic=True, unknowns="shallow")
def _setproduct(ctx: FunctionContext, *sets: Value) -> Value:
    if len(sets) < 2:
        raise Failure("at least two arguments are required")
    lists: list[list[Value]] = []
    for index, items in enumerate(sets):
        try:
            lists.append(convert(items, list_of(ANY)))
        except ConversionError:
            raise Failure("a set or a list is required", arg=index) from None
    # Each combination is a tuple, in the order of the arguments: the first varies slowest.
    product: list[list[Value]] = [[]]
    for items in lists:
        product = [[*combination, item] for combination in product for item in items]
    return product
