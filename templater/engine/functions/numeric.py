"""Numeric functions: min, max, abs, ceil, floor, signum, pow, log and parseint, with Go's
answers at the edges (infinities, NaN, digits past base 36).
"""

from __future__ import annotations

import math

from templater.engine.functions.library import (
    Failure,
    FunctionContext,
    Param,
    as_number,
    as_whole,
    register,
)
from templater.engine.types import ConversionError, describe_value
from templater.engine.values import Number, Value, normalize_number, render


@register("min", Param("numbers", as_number), variadic=True)
def _min(ctx: FunctionContext, *numbers: Number) -> Number:
    if not numbers:
        raise Failure("must pass at least one number")
    return normalize_number(min(numbers))


@register("max", Param("numbers", as_number), variadic=True)
def _max(ctx: FunctionContext, *numbers: Number) -> Number:
    if not numbers:
        raise Failure("must pass at least one number")
    return normalize_number(max(numbers))


@register("abs", Param("num", as_number))
def _abs(ctx: FunctionContext, number: Number) -> Number:
    return abs(number)


@register("ceil", Param("num", as_number))
def _ceil(ctx: FunctionContext, number: Number) -> Number:
    return number if isinstance(number, int) or math.isinf(number) else math.ceil(number)


@register("floor", Param("num", as_number))
def _floor(ctx: FunctionContext, number: Number) -> Number:
    return number if isinstance(number, int) or math.isinf(number) else math.floor(number)


@register("signum", Param("num", as_whole))
def _signum(ctx: FunctionContext, number: int) -> int:
    # cty converts the argument to a Go int first, so a fraction is an error there too.
    return (number > 0) - (number < 0)


@register("pow", Param("num", as_number), Param("power", as_number))
def _pow(ctx: FunctionContext, base: Number, power: Number) -> Number:
    try:
        result = math.pow(base, power)
    except OverflowError:
        result = math.inf
    except ValueError:
        raise Failure("result is not a number") from None
    return normalize_number(result)


def _go_log(number: float) -> float:
    """Go's math.Log: -Inf at zero and NaN below, where Python's raises."""
    if number > 0:
        return math.log(number)
    return -math.inf if number == 0 else math.nan


@register("log", Param("num", as_number), Param("base", as_number))
def _log(ctx: FunctionContext, number: Number, base: Number) -> Number:
    numerator, denominator = _go_log(number), _go_log(base)
    if denominator == 0:
        result = (
            math.nan
            if numerator == 0 or math.isnan(numerator)
            else math.copysign(math.inf, numerator)
        )
    else:
        result = numerator / denominator
    if math.isnan(result):
        raise Failure("result is not a number")
    return normalize_number(result)


def _strict_string(value: Value) -> str:
    if not isinstance(value, str):
        raise ConversionError(f"first argument must be a string, not {describe_value(value)}")
    return value


def _digit(char: str, base: int) -> int:
    """A digit's value as Go's big.Int reads it: letters are case-blind up to base 36, then
    a-z are 10-35 and A-Z 36-61. -1 for no digit."""
    if "0" <= char <= "9":
        return ord(char) - ord("0")
    if "a" <= char <= "z":
        return ord(char) - ord("a") + 10
    if "A" <= char <= "Z":
        return ord(char) - ord("A") + (10 if base <= 36 else 36)
    return -1


@register("parseint", Param("number", _strict_string), Param("base", as_whole))
def _parseint(ctx: FunctionContext, text: str, base: int) -> int:
    if not 2 <= base <= 62:
        raise Failure("base must be a whole number between 2 and 62 inclusive", arg=1)
    # By hand, since int() also takes underscores, spaces and 0x prefixes.
    digits = text[1:] if text[:1] in ("+", "-") else text
    value = 0
    for char in digits:
        digit = _digit(char, base)
        if not 0 <= digit < base:
            raise Failure(f"cannot parse {render(text)} as a base {base} integer", arg=0)
        value = value * base + digit
    if not digits:
        raise Failure(f"cannot parse {render(text)} as a base {base} integer", arg=0)
    return -value if text.startswith("-") else value
