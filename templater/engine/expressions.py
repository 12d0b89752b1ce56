"""Evaluate expressions the way Terraform does, keeping unknown values unknown.

A :class:`Scope` resolves the root names of references; evaluation itself is pure. Errors rise
as :class:`EvalError` carrying the span of the innermost expression that failed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

from templater.engine.functions import FunctionContext, call_function, canonical_name
from templater.engine.syntax import (
    BinaryOp,
    Conditional,
    Expr,
    ForDirective,
    ForExpr,
    FunctionCall,
    GetAttr,
    IfDirective,
    Index,
    Interpolation,
    Literal,
    ObjectExpr,
    Parens,
    Span,
    Splat,
    Template,
    TemplatePart,
    TupleExpr,
    UnaryOp,
    Variable,
)
from templater.engine.values import (
    EvalError,
    Unknown,
    Value,
    format_number,
    is_number,
    is_wholly_known,
    normalize_number,
    render,
    to_template_string,
    type_name,
)

__all__ = [
    "Namespace",
    "ResourceObject",
    "Scope",
    "Trace",
    "evaluate",
    "value_origin",
]


class Namespace:
    """A name valid only at the start of a reference (``var``, ``local``, ``coder_agent``), or
    an object whose attributes are worked out one by one as they are used (a module call's
    outputs): ``whole`` then gives its value where the object itself is used."""

    __slots__ = ("lookup", "name", "whole")

    def __init__(
        self,
        name: str,
        lookup: Callable[[str], Value | Namespace],
        whole: Callable[[], Value] | None = None,
    ) -> None:
        self.name = name
        self.lookup = lookup
        self.whole = whole


class ResourceObject(dict[str, Value]):
    """A resource instance's attributes; one the configuration does not set is computed later."""

    __slots__ = ("address",)

    def __init__(self, address: str, attributes: dict[str, Value]) -> None:
        super().__init__(attributes)
        self.address = address


Trace = tuple[Expr, "Scope", list["str | Value"]]
"""Where a value was written: an expression, its scope, and the steps into its value."""


class Scope:
    """Resolves names. The root scope (a module instance) resolves ``var``, ``local`` and the
    rest; a child adds its own names (``count``, ``each``, ``for`` variables)."""

    __slots__ = ("each_origin", "functions", "parent", "symbols")

    def __init__(
        self,
        parent: Scope | None,
        symbols: dict[str, Value],
        functions: FunctionContext | None = None,
        each_origin: Trace | None = None,
    ) -> None:
        self.parent = parent
        self.symbols = symbols
        resolved = functions if functions is not None else (parent.functions if parent else None)
        assert resolved is not None
        self.functions: FunctionContext = resolved
        # For a for_each instance: the for_each expression and the step to this instance's value.
        self.each_origin = each_origin

    def child(self, symbols: dict[str, Value], each_origin: Trace | None = None) -> Scope:
        return Scope(self, symbols, each_origin=each_origin)

    def lookup(self, name: str) -> Value | Namespace:
        scope = self
        while name not in scope.symbols:
            if scope.parent is None:
                return scope.lookup_root(name)
            scope = scope.parent
        return scope.symbols[name]

    def lookup_root(self, name: str) -> Value | Namespace:
        """The module's own names; the plain scope of a template file has none."""
        raise EvalError(f'there is no variable named "{name}"', "reference-undeclared")

    def origin(self, kind: str, name: str) -> Trace | None:
        """Where the value of ``var.name``, ``local.name`` or ``each.value`` was written."""
        scope = self
        while scope.parent is not None:
            if kind == "each" and scope.each_origin is not None:
                return scope.each_origin
            scope = scope.parent
        return scope.root_origin(kind, name)

    def root_origin(self, kind: str, name: str) -> Trace | None:
        return None


def evaluate(expr: Expr, scope: Scope) -> Value:
    """The value of ``expr``; raises :class:`EvalError` when it has none."""
    value = _eval(expr, scope)
    if isinstance(value, Namespace):
        if value.whole is not None:
            return value.whole()
        raise _located(
            EvalError(f'"{value.name}" must be followed by an attribute name'), expr.span
        )
    return value


def _located(error: EvalError, span: Span) -> EvalError:
    if error.span is None:
        error.span = span
    return error


def _eval(expr: Expr, scope: Scope) -> Value | Namespace:
    try:
        return _HANDLERS[type(expr)](expr, scope)
    except EvalError as error:
        raise _located(error, expr.span) from None
    except RecursionError:
        raise _located(EvalError("expression nested too deeply"), expr.span) from None


# ----------------------------------------------------------------------------- leaves


def _literal(expr: Literal, scope: Scope) -> Value:
    return expr.value


def _variable(expr: Variable, scope: Scope) -> Value | Namespace:
    return scope.lookup(expr.name)


def _parens(expr: Parens, scope: Scope) -> Value:
    return evaluate(expr.expr, scope)


# ----------------------------------------------------------------------------- traversals


def _get_attr(expr: GetAttr, scope: Scope) -> Value | Namespace:
    obj = _eval(expr.obj, scope)
    if isinstance(obj, Namespace):
        return obj.lookup(expr.name)
    return get_attribute(obj, expr.name)


def get_attribute(obj: Value, name: str) -> Value:
    if isinstance(obj, dict):
        try:
            return obj[name]
        except KeyError:
            if isinstance(obj, ResourceObject):
                return Unknown(f"{obj.address}.{name}")
            raise EvalError(f'this object does not have an attribute named "{name}"') from None
    if isinstance(obj, Unknown):
        return obj.attr(name)
    if obj is None:
        raise EvalError(f'cannot get attribute "{name}" from a null value')
    if isinstance(obj, list):
        raise EvalError(
            f'a list has no attribute "{name}"; to take it from every element, write [*].{name}'
        )
    raise EvalError(f'a {type_name(obj)} value has no attribute "{name}"')


def _index(expr: Index, scope: Scope) -> Value:
    obj = _eval(expr.obj, scope)
    if isinstance(obj, Namespace) and obj.whole is not None:
        obj = obj.whole()
    if isinstance(obj, Namespace):
        raise EvalError(f'"{obj.name}" must be followed by an attribute name, not an index')
    return index_value(obj, evaluate(expr.key, scope))


def index_value(obj: Value, key: Value) -> Value:
    if isinstance(obj, Unknown):
        if isinstance(key, Unknown) or not obj.origin:
            return Unknown()
        return Unknown(f"{obj.origin}[{render(key)}]")
    if isinstance(key, Unknown):
        return Unknown()
    if obj is None:
        raise EvalError("cannot index a null value")
    if key is None:
        raise EvalError("an index must not be null")
    if isinstance(obj, list):
        position = _whole_number(key, "a list index")
        if not 0 <= position < len(obj):
            raise EvalError(f"index {position} is out of range for a list of {len(obj)} elements")
        return obj[position]
    if isinstance(obj, dict):
        name = to_template_string(key) if not isinstance(key, (list, dict)) else None
        if name is None:
            raise EvalError(f"a map key must be a string, not a {type_name(key)}")
        try:
            return obj[name]
        except KeyError:
            if isinstance(obj, ResourceObject):
                return Unknown(f"{obj.address}.{name}")
            raise EvalError(f'the map has no element with key "{name}"') from None
    raise EvalError(f"a {type_name(obj)} value cannot be indexed")


def _whole_number(value: Value, what: str) -> int:
    number = to_number(value, what)
    if isinstance(number, float):
        raise EvalError(f"{what} must be a whole number, got {format_number(number)}")
    return number


def _splat(expr: Splat, scope: Scope) -> Value:
    obj = evaluate(expr.obj, scope)
    if isinstance(obj, Unknown):
        return Unknown()
    if obj is None:
        return []
    items = obj if isinstance(obj, list) else [obj]
    return [_apply_steps(item, expr.steps, scope) for item in items]


def _apply_steps(value: Value, steps: list[str | Expr], scope: Scope) -> Value:
    for step in steps:
        if isinstance(step, str):
            value = get_attribute(value, step)
        else:
            value = index_value(value, evaluate(step, scope))
    return value


# ----------------------------------------------------------------------------- operators


def to_number(value: Value, what: str = "a number") -> int | float:
    if is_number(value):
        number: int | float = value
        return number
    if isinstance(value, str):
        try:
            return normalize_number(float(value)) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            pass
    shown = "null" if value is None else f"{type_name(value)} {render(value)}"
    raise EvalError(f"{what} is required, got {shown}")


def to_bool(value: Value, what: str = "a bool") -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    shown = "null" if value is None else f"{type_name(value)} {render(value)}"
    raise EvalError(f"{what} is required, got {shown}")


def values_equal(left: Value, right: Value) -> bool:
    """Terraform equality: types matter (``1 != "1"``, ``true != 1``)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if is_number(left) and is_number(right):
        return bool(left == right)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(values_equal, left, right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(values_equal(left[k], right[k]) for k in left)
    return type(left) is type(right) and bool(left == right)


def _arithmetic(operator: str, left: int | float, right: int | float) -> int | float:
    if operator == "+":
        result = left + right
    elif operator == "-":
        result = left - right
    elif operator == "*":
        result = left * right
    elif operator == "/":
        if right == 0:
            raise EvalError("division by zero")
        result = left / right
    else:
        if right == 0:
            raise EvalError("modulo by zero")
        result = math.fmod(left, right)
    return normalize_number(result)


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


def _binary(expr: BinaryOp, scope: Scope) -> Value:
    operator = expr.op
    left = evaluate(expr.left, scope)
    if operator in ("&&", "||"):
        return _logical(operator, left, expr, scope)
    right = evaluate(expr.right, scope)
    if operator in ("==", "!="):
        if not (is_wholly_known(left) and is_wholly_known(right)):
            return Unknown()
        return values_equal(left, right) == (operator == "==")
    if isinstance(left, Unknown) or isinstance(right, Unknown):
        return Unknown()
    if operator in _COMPARISONS:
        return _COMPARISONS[operator](to_number(left), to_number(right))
    return _arithmetic(operator, to_number(left), to_number(right))


def _logical(operator: str, left: Value, expr: BinaryOp, scope: Scope) -> Value:
    # A known deciding operand settles the result even when the other one is unknown.
    decisive = operator == "||"
    if not isinstance(left, Unknown) and to_bool(left) == decisive:
        return decisive
    right = evaluate(expr.right, scope)
    if not isinstance(right, Unknown) and to_bool(right) == decisive:
        return decisive
    if isinstance(left, Unknown) or isinstance(right, Unknown):
        return Unknown()
    return not decisive


def _unary(expr: UnaryOp, scope: Scope) -> Value:
    operand = evaluate(expr.operand, scope)
    if isinstance(operand, Unknown):
        return Unknown()
    if expr.op == "!":
        return not to_bool(operand)
    return normalize_number(-to_number(operand))


def _conditional(expr: Conditional, scope: Scope) -> Value:
    condition = evaluate(expr.condition, scope)
    if isinstance(condition, Unknown):
        return Unknown()
    chosen = expr.true_expr if to_bool(condition, "a condition") else expr.false_expr
    return evaluate(chosen, scope)


# ----------------------------------------------------------------------------- collections


def _tuple(expr: TupleExpr, scope: Scope) -> Value:
    return [evaluate(item, scope) for item in expr.items]


def _object(expr: ObjectExpr, scope: Scope) -> Value:
    result: dict[str, Value] = {}
    unknown_key = False
    for key_expr, value_expr in expr.items:
        key = evaluate(key_expr, scope)
        value = evaluate(value_expr, scope)
        if isinstance(key, Unknown):
            unknown_key = True
            continue
        if key is None:
            raise _located(EvalError("an object key must not be null"), key_expr.span)
        if isinstance(key, (list, dict)):
            raise _located(
                EvalError(f"an object key must be a string, not a {type_name(key)}"), key_expr.span
            )
        result[to_template_string(key)] = value
    return Unknown() if unknown_key else result


def iterate(collection: Value) -> Iterator[tuple[Value, Value]]:
    """(key, value) pairs in Terraform's order: list positions, or map keys sorted."""
    if isinstance(collection, list):
        return iter(enumerate(collection))
    if isinstance(collection, dict):
        return ((key, collection[key]) for key in sorted(collection))
    if collection is None:
        raise EvalError("cannot iterate over a null value")
    raise EvalError(f"cannot iterate over a {type_name(collection)} value")


def _for(expr: ForExpr, scope: Scope) -> Value:
    collection = evaluate(expr.collection, scope)
    if isinstance(collection, Unknown):
        return Unknown()
    results: list[Value] = []
    grouped: dict[str, Value] = {}
    unknown = False
    for key, value in iterate(collection):
        symbols = {expr.value_var: value}
        if expr.key_var is not None:
            symbols[expr.key_var] = key
        inner = scope.child(symbols)
        if expr.condition is not None:
            keep = evaluate(expr.condition, inner)
            if isinstance(keep, Unknown):
                unknown = True
                continue
            if not to_bool(keep, "a for condition"):
                continue
        item = evaluate(expr.value_expr, inner)
        if expr.key_expr is None:
            results.append(item)
            continue
        item_key = evaluate(expr.key_expr, inner)
        if isinstance(item_key, Unknown):
            unknown = True
            continue
        if item_key is None or isinstance(item_key, (list, dict)):
            raise _located(EvalError("a for expression's key must be a string"), expr.key_expr.span)
        name = to_template_string(item_key)
        if expr.grouping:
            grouped.setdefault(name, []).append(item)
        elif name in grouped:
            raise _located(
                EvalError(
                    f'two elements have the key "{name}"; add ... after the value to group them'
                ),
                expr.key_expr.span,
            )
        else:
            grouped[name] = item
    if unknown:
        return Unknown()
    return results if expr.key_expr is None else grouped


# ----------------------------------------------------------------------------- templates


def _template(expr: Template, scope: Scope) -> Value:
    parts = expr.parts
    if len(parts) == 1 and isinstance(parts[0], Interpolation):
        # "${x}" is x itself, whatever its type.
        return evaluate(parts[0].expr, scope)
    pieces: list[str] = []
    return "".join(pieces) if _render_parts(parts, scope, pieces) else Unknown()


def _render_parts(parts: list[TemplatePart], scope: Scope, pieces: list[str]) -> bool:
    """Append the rendered parts; False when any is unknown (the string is then unknown)."""
    known = True
    for part in parts:
        if isinstance(part, str):
            pieces.append(part)
        elif isinstance(part, Interpolation):
            value = evaluate(part.expr, scope)
            if isinstance(value, Unknown):
                known = False
            else:
                try:
                    pieces.append(to_template_string(value))
                except EvalError as error:
                    raise _located(error, part.expr.span) from None
        elif isinstance(part, IfDirective):
            condition = evaluate(part.condition, scope)
            if isinstance(condition, Unknown):
                known = False
                continue
            branch = part.then_parts if to_bool(condition, "a condition") else part.else_parts
            known = _render_parts(branch, scope, pieces) and known
        else:
            known = _render_for(part, scope, pieces) and known
    return known


def _render_for(part: ForDirective, scope: Scope, pieces: list[str]) -> bool:
    collection = evaluate(part.collection, scope)
    if isinstance(collection, Unknown):
        return False
    known = True
    for key, value in iterate(collection):
        symbols = {part.value_var: value}
        if part.key_var is not None:
            symbols[part.key_var] = key
        known = _render_parts(part.body, scope.child(symbols), pieces) and known
    return known


# ----------------------------------------------------------------------------- functions


def _call(expr: FunctionCall, scope: Scope) -> Value:
    name = canonical_name(expr.name)
    if name == "try":
        return _try(expr, scope)
    if name == "can":
        return _can(expr, scope)
    args = [evaluate(arg, scope) for arg in expr.args]
    if expr.expand_final and args:
        final = args.pop()
        if isinstance(final, Unknown):
            return Unknown()
        if not isinstance(final, list):
            raise EvalError(f"the argument before ... must be a list, not a {type_name(final)}")
        args.extend(final)
    return call_function(expr.name, args, scope.functions)


def _try(expr: FunctionCall, scope: Scope) -> Value:
    if not expr.args:
        raise EvalError("try needs at least one argument")
    errors: list[str] = []
    for arg in expr.args:
        try:
            value = evaluate(arg, scope)
        except EvalError as error:
            if error.rule == "reference-undeclared":
                raise  # try() forgives dynamic errors, not a reference to nothing
            errors.append(error.message)
            continue
        # An unknown might still fail once known, so the choice cannot be made yet.
        return value if is_wholly_known(value) else Unknown()
    raise EvalError("no expression given to try succeeded: " + "; ".join(errors))


def _can(expr: FunctionCall, scope: Scope) -> Value:
    if len(expr.args) != 1:
        raise EvalError("can takes exactly one argument")
    try:
        value = evaluate(expr.args[0], scope)
    except EvalError as error:
        if error.rule == "reference-undeclared":
            raise
        return False
    return True if is_wholly_known(value) else Unknown()


_HANDLERS: dict[type, Callable[[Any, Scope], Value | Namespace]] = {
    Literal: _literal,
    Variable: _variable,
    Parens: _parens,
    GetAttr: _get_attr,
    Index: _index,
    Splat: _splat,
    BinaryOp: _binary,
    UnaryOp: _unary,
    Conditional: _conditional,
    TupleExpr: _tuple,
    ObjectExpr: _object,
    ForExpr: _for,
    Template: _template,
    FunctionCall: _call,
}


# ----------------------------------------------------------------------------- origins


def value_origin(expr: Expr, scope: Scope, steps: list[str | Value] | None = None) -> Span:
    """Where the value of ``expr`` (or of the element ``steps`` lead to) was written: follows
    references to variables, locals and ``each.value``, the chosen branch of a conditional
    and plain ``"${…}"`` wrappers, into the variable default, module input, local or
    collection literal that holds it."""
    steps = list(steps or [])
    depth = 0
    while depth < 32:
        depth += 1
        if isinstance(expr, Parens):
            expr = expr.expr
        elif (
            isinstance(expr, Template)
            and len(expr.parts) == 1
            and isinstance(expr.parts[0], Interpolation)
        ):
            expr = expr.parts[0].expr
        elif isinstance(expr, Conditional):
            try:
                condition = evaluate(expr.condition, scope)
                chosen = to_bool(condition) if not isinstance(condition, Unknown) else None
            except EvalError:
                chosen = None
            if chosen is None:
                break
            expr = expr.true_expr if chosen else expr.false_expr
        elif isinstance(expr, (GetAttr, Index)):
            found = _reference_origin(expr, scope, steps)
            if found is None:
                break
            expr, scope, steps = found
        elif steps and isinstance(expr, (ObjectExpr, TupleExpr)):
            item = _literal_element(expr, steps[0], scope)
            if item is None:
                break
            expr, steps = item, steps[1:]
        else:
            break
    return expr.span


def _reference_origin(
    expr: GetAttr | Index, scope: Scope, steps: list[str | Value]
) -> tuple[Expr, Scope, list[str | Value]] | None:
    """For ``var.x.a[0]`` or ``local.x``: the expression behind it, and the steps still to take."""
    trail: list[str | Value] = []
    node: Expr = expr
    while isinstance(node, (GetAttr, Index)):
        if isinstance(node, GetAttr):
            trail.append(node.name)
        else:
            try:
                trail.append(evaluate(node.key, scope))
            except EvalError:
                return None
        node = node.obj
    if not isinstance(node, Variable) or node.name not in ("var", "local", "each") or not trail:
        return None
    trail.reverse()
    name = trail[0]
    if not isinstance(name, str) or (node.name == "each" and name != "value"):
        return None
    origin = scope.origin(node.name, name)
    if origin is None:
        return None
    origin_expr, origin_scope, origin_steps = origin
    return origin_expr, origin_scope, origin_steps + trail[1:] + steps


def _literal_element(expr: ObjectExpr | TupleExpr, step: str | Value, scope: Scope) -> Expr | None:
    if isinstance(expr, TupleExpr):
        return expr.items[step] if isinstance(step, int) and 0 <= step < len(expr.items) else None
    for key_expr, value_expr in expr.items:
        if isinstance(key_expr, Literal) and key_expr.value == step:
            return value_expr
    return None
