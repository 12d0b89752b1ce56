"""Type conversion functions: tostring, tonumber, tobool, tolist, toset and tomap, with
Terraform's messages for the strings that are not numbers or bools; sensitive, nonsensitive,
issensitive and ephemeralasnull, which have no marks to work on here.

``can`` and ``try`` are not here: they need their argument expressions unevaluated, so the
evaluator implements them.
"""

from __future__ import annotations

from collections.abc import Callable

from templater.engine.functions.library import Failure, FunctionContext, Param, register
from templater.engine.types import (
    ANY,
    BOOL,
    NUMBER,
    STRING,
    ConversionError,
    TypeSpec,
    convert,
    list_of,
    map_of,
    set_of,
)
from templater.engine.values import Unknown, Value, render


def _make_conversion(spec: TypeSpec) -> Callable[[FunctionContext, Value], Value]:
    def conversion(ctx: FunctionContext, value: Value) -> Value:
        try:
            return convert(value, spec)
        except ConversionError as err:
            if isinstance(value, str) and spec is NUMBER:
                message = (
                    f"cannot convert {render(value)} to number; given string must be a "
                    "decimal representation of a number"
                )
            elif isinstance(value, str) and spec is BOOL:
                message = f'cannot convert {render(value)} to bool; only the strings "true" or "false" are allowed'
            else:
                message = err.message
            raise Failure(message, arg=0) from None

    return conversion


for _name, _spec in (
    ("tostring", STRING),
    ("tonumber", NUMBER),
    ("tobool", BOOL),
    ("tolist", list_of(ANY)),
    ("toset", set_of(ANY)),
    ("tomap", map_of(ANY)),
):
    register(_name, Param("v", nullable=True), unknowns="shallow")(_make_conversion(_spec))


# Marks are not modelled, so these pass their value through.
@register("sensitive", Param("value", nullable=True), unknowns="handles")
def _sensitive(ctx: FunctionContext, value: Value) -> Value:
    return value


@register("nonsensitive", Param("value", nullable=True), unknowns="handles")
def _nonsensitive(ctx: FunctionContext, value: Value) -> Value:
    return value


# Terraform answers from the value's marks, which templater does not keep: unknown, so that no
# rule decides anything on it.
@register("issensitive", Param("value", nullable=True), unknowns="handles")
def _issensitive(ctx: FunctionContext, value: Value) -> Value:
    return Unknown()


# No value is ephemeral here (templater keeps no ephemeral marks), so every value is kept as it
# is, as Terraform keeps every non-ephemeral one.
@register("ephemeralasnull", Param("value", nullable=True), unknowns="handles")
def _ephemeralasnull(ctx: FunctionContext, value: Value) -> Value:
    return value
