"""The functions of Terraform's built-in ``terraform`` provider (Terraform 1.8 and later):
``provider::terraform::encode_tfvars``, ``decode_tfvars`` and ``encode_expr``.

The encoders write what Terraform's hclwrite writes for a value: objects one attribute a line,
sorted, with the ``=`` of neighbouring one-line attributes aligned; lists, sets and tuples on one
line; strings quoted with template sequences doubled. decode_tfvars reads a .tfvars text with
the project's parser and takes its values as Terraform does, with no variables and no functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from templater.engine import syntax
from templater.engine.functions.library import (
    BUILTIN_PROVIDER,
    Failure,
    FunctionContext,
    Param,
    as_decimal,
    as_string,
    json_string,
    register,
    valid_identifier,
)
from templater.engine.parser import parse_text
from templater.engine.values import (
    Unknown,
    Value,
    is_number,
    is_wholly_known,
    normalize_number,
    to_template_string,
)

_OPENERS, _CLOSERS = "[{", "]}"


# --- writing values as HCL -----------------------------------------------------------------------


def _string_literal(text: str) -> str:
    """A quoted HCL string: escapes, non-printable characters as \\u, ${ and %{ doubled."""
    out = ['"']
    for index, char in enumerate(text):
        if char in '\n\r\t"\\':
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t", '"': '\\"', "\\": "\\\\"}[char])
        elif char in "$%":
            out.append(char * 2 if text[index + 1 : index + 2] == "{" else char)
        elif not char.isprintable():
            code = ord(char)
            out.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _number_literal(value: Value) -> str:
    number = normalize_number(value)
    if isinstance(number, int):
        return str(number)
    if not math.isfinite(number):
        raise Failure("cannot encode an infinite number in HCL syntax")
    return format(as_decimal(number), "f")


def _tokens(value: Value, out: list[str]) -> None:
    """``value`` as hclwrite's tokens; "\\n" is a line break."""
    if value is None:
        out.append("null")
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif is_number(value):
        out.append(_number_literal(value))
    elif isinstance(value, str):
        out.append(_string_literal(value))
    elif isinstance(value, list):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _tokens(item, out)
        out.append("]")
    else:
        out.append("{")
        if value:
            out.append("\n")
            for key in sorted(value):
                _attribute_tokens(key, value[key], out)
        out.append("}")


def _attribute_tokens(key: str, value: Value, out: list[str]) -> None:
    out.append(key if valid_identifier(key) else _string_literal(key))
    out.append("=")
    _tokens(value, out)
    out.append("\n")


@dataclass
class _Line:
    lead: list[str]
    assign: list[str]  # from the "=" on, when the rest of the line is a whole expression
    indent: int = 0


def _bracket_change(tokens: list[str]) -> int:
    return sum((token in _OPENERS) - (token in _CLOSERS) for token in tokens)


def _joined(tokens: list[str]) -> str:
    text = ""
    for index, token in enumerate(tokens):
        previous = tokens[index - 1] if index else ""
        spaced = previous in (",", "=") or token == "="
        if index and spaced and previous not in _OPENERS:
            text += " "
        text += token
    return text


def _format(tokens: list[str]) -> str:
    """The tokens laid out as hclwrite formats them: a level of indent for each line that
    opens brackets, and the ``=`` of consecutive one-line attributes aligned."""
    lines: list[_Line] = []
    current: list[str] = []
    for token in [*tokens, "\n"]:
        if token != "\n":
            current.append(token)
            continue
        if "=" in current[1:]:
            equals = current.index("=", 1)
            if _bracket_change(current[equals:]) == 0:
                lines.append(_Line(current[:equals], current[equals:]))
                current = []
                continue
        lines.append(_Line(current, []))
        current = []
    indents: list[int] = []
    for line in lines:
        change = _bracket_change(line.lead + line.assign)
        if change < 0 and line.lead and line.lead[0] in _CLOSERS:
            closed = -change
            while closed > 0 and indents:
                if closed >= indents[-1]:
                    closed -= indents.pop()
                else:
                    indents[-1] -= closed
                    closed = 0
        line.indent = 2 * len(indents)
        if change > 0:
            indents.append(change)
    out = []
    chain: list[_Line] = []
    for line in [*lines, _Line([], [])]:
        if line.assign:
            chain.append(line)
            continue
        width = max((len(_joined(member.lead)) for member in chain), default=0)
        for member in chain:
            lead = _joined(member.lead)
            padding = " " * (width - len(lead) + 1)
            out.append(" " * member.indent + lead + padding + _joined(member.assign))
        chain = []
        if line.lead:
            out.append(" " * line.indent + _joined(line.lead))
    return "\n".join(out)


@register(BUILTIN_PROVIDER + "encode_expr", Param("value"))
def _encode_expr(ctx: FunctionContext, value: Value) -> str:
    tokens: list[str] = []
    _tokens(value, tokens)
    return _format(tokens)


@register(BUILTIN_PROVIDER + "encode_tfvars", Param("value"))
def _encode_tfvars(ctx: FunctionContext, value: Value) -> str:
    if not isinstance(value, dict):
        raise Failure(
            "invalid value to encode: must be an object whose attribute names will become the "
            "encoded variable names"
        )
    tokens: list[str] = []
    for key in sorted(value):
        if not valid_identifier(key):
            raise Failure(
                f"invalid variable name {json_string(key)}: must be a valid identifier, per "
                "Terraform's rules for input variable declarations"
            )
        _attribute_tokens(key, value[key], tokens)
    return _format(tokens) + "\n" if tokens else ""


# --- reading .tfvars -----------------------------------------------------------------------------

_FILE = "<decode_tfvars argument>"


class _NotAllowed(Exception):
    def __init__(self, span: syntax.Span, message: str) -> None:
        super().__init__(message)
        self.span = span
        self.message = message


def _constant(expr: syntax.Expr) -> Value:
    """The value of an expression in a .tfvars file, which may use no variables and call no
    functions. What needs an evaluator (operators, conditionals, for expressions, template
    directives) is unknown here."""
    if isinstance(expr, syntax.Literal):
        return expr.value
    if isinstance(expr, syntax.Parens):
        return _constant(expr.expr)
    if isinstance(expr, syntax.TupleExpr):
        return [_constant(item) for item in expr.items]
    if isinstance(expr, syntax.ObjectExpr):
        items: dict[str, Value] = {}
        for key_expr, value_expr in expr.items:
            key = _constant(key_expr)
            if not is_wholly_known(key) or isinstance(key, (list, dict)):
                return Unknown()
            # A bare key is a name, keywords too (true = 1 and null = 1 are "true" and "null").
            items["null" if key is None else to_template_string(key)] = _constant(value_expr)
        return items
    if isinstance(expr, syntax.Template):
        pieces = []
        for part in expr.parts:
            if isinstance(part, str):
                pieces.append(part)
                continue
            value = _constant(part.expr) if isinstance(part, syntax.Interpolation) else Unknown()
            if not is_wholly_known(value) or isinstance(value, (list, dict)) or value is None:
                return Unknown()
            pieces.append(to_template_string(value))
        return "".join(pieces)
    if isinstance(expr, syntax.UnaryOp) and expr.op == "-":
        operand = _constant(expr.operand)
        return -operand if is_number(operand) else Unknown()
    root = expr
    while isinstance(root, (syntax.GetAttr, syntax.Index, syntax.Splat)):
        root = root.obj
    if isinstance(root, syntax.Variable):
        raise _NotAllowed(root.span, "Variables not allowed; Variables may not be used here.")
    if isinstance(expr, syntax.FunctionCall):
        raise _NotAllowed(
            expr.span, "Function calls not allowed; Functions may not be called here."
        )
    return Unknown()


def _diagnostic(message: str) -> str:
    """A syntax message ("Summary: detail") as HCL words a diagnostic in an error string."""
    return message.replace(": ", "; ", 1)


@register(BUILTIN_PROVIDER + "decode_tfvars", Param("src", as_string))
def _decode_tfvars(ctx: FunctionContext, text: str) -> Value:
    try:
        body = parse_text(text, _FILE)
    except syntax.ParseError as problem:
        if problem.message.startswith("Unsupported syntax:"):
            return Unknown()  # valid for Terraform, beyond templater's parser: not an error
        raise Failure(
            f"invalid tfvars syntax: {syntax.hcl_range(problem.span)}: {_diagnostic(problem.message)}"
        ) from None
    if body.duplicates:
        duplicate = body.duplicates[0]
        raise Failure(
            f"invalid tfvars syntax: {syntax.hcl_range(duplicate.name_span)}: "
            f"{_diagnostic(syntax.redefinition_message(body, duplicate))}"
        )
    if body.blocks:
        block = body.blocks[0]
        raise Failure(
            f"invalid tfvars content: {syntax.hcl_range(block.type_span)}: Unexpected "
            f'"{block.type}" block; Blocks are not allowed here.'
        )
    values: dict[str, Value] = {}
    for name, attribute in body.attributes.items():
        try:
            values[name] = _constant(attribute.expr)
        except _NotAllowed as problem:
            raise Failure(
                f"invalid expression for variable {json_string(name)}: "
                f"{syntax.hcl_range(problem.span)}: {problem.message}"
            ) from None
    return values
