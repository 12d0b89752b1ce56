"""Terraform values as plain Python data, plus the unknown value.

A value is ``str``, ``int``/``float`` (Terraform's number), ``bool``, ``None`` (null), ``list``
(list, tuple and set), ``dict`` (map and object) or an :class:`Unknown`. Collections may hold
unknowns; such a value is known but not wholly known, as in Terraform.
"""

from __future__ import annotations

import math
from typing import Any

Value = Any
"""A Terraform value: str, int, float, bool, None, list, dict or Unknown."""


class Unknown:
    """A value that cannot be known before apply.

    ``origin`` names what it is the unknown of (``coder_agent.dev.id``) while the value is that
    reference itself; any operation on it gives an unknown with no origin.
    """

    __slots__ = ("origin",)

    def __init__(self, origin: str | None = None) -> None:
        self.origin = origin

    def attr(self, name: str) -> Unknown:
        """The unknown value of an attribute of this unknown object."""
        return Unknown(f"{self.origin}.{name}" if self.origin else None)

    def __repr__(self) -> str:
        return f"Unknown({self.origin!r})" if self.origin else "Unknown()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unknown) and other.origin == self.origin

    def __hash__(self) -> int:
        return hash(("Unknown", self.origin))


UNKNOWN = Unknown()
"""An unknown value with no particular origin."""


class EvalError(Exception):
    """An expression that cannot be evaluated; the evaluator adds where."""

    def __init__(self, message: str, rule: str = "eval-error") -> None:
        super().__init__(message)
        self.message = message
        self.rule = rule
        self.span: Any = None  # the innermost expression that failed, set as the error rises


Number = int | float


def is_known(value: Value) -> bool:
    return not isinstance(value, Unknown)


def is_wholly_known(value: Value) -> bool:
    """True when neither the value nor anything inside it is unknown."""
    if isinstance(value, Unknown):
        return False
    if isinstance(value, list):
        return all(is_wholly_known(item) for item in value)
    if isinstance(value, dict):
        return all(is_wholly_known(item) for item in value.values())
    return True


def is_number(value: Value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def normalize_number(number: Number) -> Number:
    """Terraform has one number type: an integral float is the same number as the int."""
    if isinstance(number, float) and number.is_integer() and abs(number) < 2**63:
        return int(number)
    return number


def format_number(number: Number) -> str:
    """A number as Terraform prints it in a string (``2`` not ``2.0``)."""
    if isinstance(number, float):
        if math.isinf(number) or math.isnan(number):
            raise EvalError("a number must be finite to become a string")
        number = normalize_number(number)
        if isinstance(number, float):
            return repr(number)
    return str(number)


def type_name(value: Value) -> str:
    """The Terraform type family of a value, for messages."""
    if isinstance(value, Unknown):
        return "unknown"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if is_number(value):
        return "number"
    if isinstance(value, list):
        return "tuple"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def to_template_string(value: Value) -> str:
    """A known primitive as it appears inside a string template."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return format_number(value)
    if value is None:
        raise EvalError("cannot include a null value in a string template")
    raise EvalError(f"cannot include a {type_name(value)} value in a string template")


def render(value: Value) -> str:
    """A value as a short Terraform-like literal, for messages and text output."""
    if isinstance(value, Unknown):
        return f"(known after apply: {value.origin})" if value.origin else "(known after apply)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if is_number(value):
        return format_number(value)
    if isinstance(value, list):
        return "[" + ", ".join(render(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key} = {render(item)}" for key, item in value.items()) + "}"
    return repr(value)


def to_json_value(value: Value) -> Any:
    """A value for JSON output: unknowns become ``{"unknown": origin}``."""
    if isinstance(value, Unknown):
        return {"unknown": value.origin}
    if isinstance(value, list):
        return [to_json_value(item) for item in value]
    if isinstance(value, dict):
        return {key: to_json_value(item) for key, item in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
