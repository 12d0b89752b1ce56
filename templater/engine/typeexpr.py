"""Read a variable's ``type =`` expression into a :class:`~templater.engine.types.TypeSpec`."""

from __future__ import annotations

from collections.abc import Callable

from templater.engine.syntax import Expr, FunctionCall, Literal, ObjectExpr, TupleExpr, Variable
from templater.engine.types import (
    ANY,
    BOOL,
    NUMBER,
    STRING,
    TypeSpec,
    list_of,
    map_of,
    object_of,
    set_of,
    tuple_of,
)
from templater.engine.values import EvalError, Value

_PRIMITIVES = {"string": STRING, "number": NUMBER, "bool": BOOL, "any": ANY}
_COLLECTIONS: dict[str, Callable[[TypeSpec], TypeSpec]] = {
    "list": list_of,
    "set": set_of,
    "map": map_of,
}


def type_constraint(expr: Expr, constant: Callable[[Expr], Value]) -> TypeSpec:
    """The type an expression such as ``map(object({port = number}))`` names; ``constant``
    evaluates the defaults of ``optional(type, default)``."""
    if isinstance(expr, Variable):
        if expr.name in _PRIMITIVES:
            return _PRIMITIVES[expr.name]
        if expr.name in _COLLECTIONS:  # Terraform 0.11's bare `list` and `map`
            return _COLLECTIONS[expr.name](ANY)
    elif isinstance(expr, Literal) and isinstance(expr.value, str):
        # The quoted "string", "list" and "map" of Terraform 0.11.
        legacy = {"string": STRING, "list": list_of(STRING), "map": map_of(STRING)}
        if expr.value in legacy:
            return legacy[expr.value]
    elif isinstance(expr, FunctionCall) and len(expr.args) == 1:
        argument = expr.args[0]
        if expr.name in _COLLECTIONS:
            return _COLLECTIONS[expr.name](type_constraint(argument, constant))
        if expr.name == "tuple" and isinstance(argument, TupleExpr):
            return tuple_of(*(type_constraint(item, constant) for item in argument.items))
        if expr.name == "object" and isinstance(argument, ObjectExpr):
            return _object(argument, constant)
    raise _invalid(expr)


def _object(expr: ObjectExpr, constant: Callable[[Expr], Value]) -> TypeSpec:
    attributes: dict[str, TypeSpec] = {}
    optional: list[str] = []
    defaults: dict[str, Value] = {}
    for key, value in expr.items:
        if not (isinstance(key, Literal) and isinstance(key.value, str)):
            raise _invalid(key, "an object type's attribute names must be written as names")
        name = key.value
        if isinstance(value, FunctionCall) and value.name == "optional":
            if not 1 <= len(value.args) <= 2:
                raise _invalid(value, "optional takes a type and, if you like, a default")
            attributes[name] = type_constraint(value.args[0], constant)
            optional.append(name)
            if len(value.args) == 2:
                defaults[name] = constant(value.args[1])
        else:
            attributes[name] = type_constraint(value, constant)
    try:
        return object_of(attributes, optional, defaults)
    except EvalError as problem:
        problem.span = expr.span
        raise


def _invalid(expr: Expr, reason: str = "") -> EvalError:
    problem = EvalError(
        reason
        or "not a type constraint: use string, number, bool, any, list(…), set(…), "
        "map(…), tuple([…]) or object({…})"
    )
    problem.span = expr.span
    return problem
