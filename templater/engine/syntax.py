"""The syntax tree of a Terraform file: bodies, blocks, attributes and expressions, with spans.

Every node keeps the span of the source it came from. Nodes are plain slotted classes so that a
parsed file pickles small and fast (the lint cache stores them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple, overload


class Span(NamedTuple):
    """A region of a source file: 1-based lines and columns, the end column exclusive."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def to(self, other: Span) -> Span:
        """The span from the start of this one to the end of ``other``."""
        return Span(self.file, self.line, self.column, other.end_line, other.end_column)


class _SpanField:
    """A span attribute kept as a plain tuple. The parse cache pickles every node, and plain
    tuples load several times faster than named ones, which need a Python call each."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}"

    @overload
    def __get__(self, node: None, owner: type) -> _SpanField: ...
    @overload
    def __get__(self, node: object, owner: type) -> Span: ...
    def __get__(self, node: object | None, owner: type) -> Span | _SpanField:
        if node is None:
            return self
        return Span._make(getattr(node, self.slot))

    def __set__(self, node: object, span: Span) -> None:
        setattr(node, self.slot, tuple(span))


class Node:
    __slots__ = ("_span",)
    span = _SpanField()

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for cls in type(self).__mro__
            for name in getattr(cls, "__slots__", ())
            if not name.startswith("_")
        )
        return f"{type(self).__name__}({fields})"


# ----------------------------------------------------------------------------- expressions


class Expr(Node):
    __slots__ = ()


class Literal(Expr):
    """A number, bool, null or a string with no interpolation."""

    __slots__ = ("value",)

    def __init__(self, value: Any, span: Span) -> None:
        self.value = value
        self.span = span


class Variable(Expr):
    """A bare name at the root of a reference: ``var``, ``local``, ``coder_agent``, ``each``."""

    __slots__ = ("name",)

    def __init__(self, name: str, span: Span) -> None:
        self.name = name
        self.span = span


class GetAttr(Expr):
    __slots__ = ("name", "obj")

    def __init__(self, obj: Expr, name: str, span: Span) -> None:
        self.obj = obj
        self.name = name
        self.span = span


class Index(Expr):
    __slots__ = ("key", "obj")

    def __init__(self, obj: Expr, key: Expr, span: Span) -> None:
        self.obj = obj
        self.key = key
        self.span = span


class Splat(Expr):
    """``obj[*].a.b`` or ``obj.*.a``: ``steps`` apply to each element (a str is an attribute)."""

    __slots__ = ("obj", "steps")

    def __init__(self, obj: Expr, steps: list[str | Expr], span: Span) -> None:
        self.obj = obj
        self.steps = steps
        self.span = span


class Parens(Expr):
    __slots__ = ("expr",)

    def __init__(self, expr: Expr, span: Span) -> None:
        self.expr = expr
        self.span = span


class FunctionCall(Expr):
    __slots__ = ("args", "expand_final", "name")

    def __init__(self, name: str, args: list[Expr], expand_final: bool, span: Span) -> None:
        self.name = name
        self.args = args
        self.expand_final = expand_final
        self.span = span


class Conditional(Expr):
    __slots__ = ("condition", "false_expr", "true_expr")

    def __init__(self, condition: Expr, true_expr: Expr, false_expr: Expr, span: Span) -> None:
        self.condition = condition
        self.true_expr = true_expr
        self.false_expr = false_expr
        self.span = span


class BinaryOp(Expr):
    __slots__ = ("left", "op", "right")

    def __init__(self, op: str, left: Expr, right: Expr, span: Span) -> None:
        self.op = op
        self.left = left
        self.right = right
        self.span = span


class UnaryOp(Expr):
    __slots__ = ("op", "operand")

    def __init__(self, op: str, operand: Expr, span: Span) -> None:
        self.op = op
        self.operand = operand
        self.span = span


class TupleExpr(Expr):
    __slots__ = ("items",)

    def __init__(self, items: list[Expr], span: Span) -> None:
        self.items = items
        self.span = span


class ObjectExpr(Expr):
    """``{k = v}``; a key is a :class:`Literal` string when written as a bare name."""

    __slots__ = ("items",)

    def __init__(self, items: list[tuple[Expr, Expr]], span: Span) -> None:
        self.items = items
        self.span = span


class ForExpr(Expr):
    """``[for k, v in coll : value if cond]`` or ``{for k, v in coll : key => value... if cond}``."""

    __slots__ = (
        "collection",
        "condition",
        "grouping",
        "key_expr",
        "key_var",
        "value_expr",
        "value_var",
    )

    def __init__(
        self,
        key_var: str | None,
        value_var: str,
        collection: Expr,
        key_expr: Expr | None,
        value_expr: Expr,
        condition: Expr | None,
        grouping: bool,
        span: Span,
    ) -> None:
        self.key_var = key_var
        self.value_var = value_var
        self.collection = collection
        self.key_expr = key_expr
        self.value_expr = value_expr
        self.condition = condition
        self.grouping = grouping
        self.span = span


# ----------------------------------------------------------------------------- templates


class Interpolation(Node):
    __slots__ = ("expr",)

    def __init__(self, expr: Expr, span: Span) -> None:
        self.expr = expr
        self.span = span


class IfDirective(Node):
    __slots__ = ("condition", "else_parts", "then_parts")

    def __init__(
        self,
        condition: Expr,
        then_parts: list[TemplatePart],
        else_parts: list[TemplatePart],
        span: Span,
    ) -> None:
        self.condition = condition
        self.then_parts = then_parts
        self.else_parts = else_parts
        self.span = span


class ForDirective(Node):
    __slots__ = ("body", "collection", "key_var", "value_var")

    def __init__(
        self,
        key_var: str | None,
        value_var: str,
        collection: Expr,
        body: list[TemplatePart],
        span: Span,
    ) -> None:
        self.key_var = key_var
        self.value_var = value_var
        self.collection = collection
        self.body = body
        self.span = span


TemplatePart = str | Interpolation | IfDirective | ForDirective


class Template(Expr):
    """A string with interpolations or directives (quoted or heredoc)."""

    __slots__ = ("parts",)

    def __init__(self, parts: list[TemplatePart], span: Span) -> None:
        self.parts = parts
        self.span = span


# ----------------------------------------------------------------------------- structure


class Attribute(Node):
    __slots__ = ("_name_span", "expr", "name")
    name_span = _SpanField()

    def __init__(self, name: str, expr: Expr, name_span: Span, span: Span) -> None:
        self.name = name
        self.expr = expr
        self.name_span = name_span
        self.span = span


class Block(Node):
    """``type "label" { body }``; ``span`` covers the header (type and labels)."""

    __slots__ = ("_label_spans", "_type_span", "body", "labels", "type")
    type_span = _SpanField()

    def __init__(
        self,
        type: str,
        labels: list[str],
        body: Body,
        type_span: Span,
        span: Span,
        label_spans: list[Span],
    ) -> None:
        self.type = type
        self.labels = labels
        self.body = body
        self.type_span = type_span
        self.span = span
        self._label_spans = [tuple(label) for label in label_spans]

    @property
    def label_spans(self) -> list[Span]:
        return [Span._make(label) for label in self._label_spans]


class Body(Node):
    """Attributes by name (a repeated name is kept in ``duplicates``) and blocks in order."""

    __slots__ = ("attributes", "blocks", "duplicates")

    def __init__(
        self,
        attributes: dict[str, Attribute],
        blocks: list[Block],
        duplicates: list[Attribute],
        span: Span,
    ) -> None:
        self.attributes = attributes
        self.blocks = blocks
        self.duplicates = duplicates
        self.span = span

    def blocks_of(self, type: str) -> list[Block]:
        return [block for block in self.blocks if block.type == type]


@dataclass(frozen=True, slots=True)
class SyntaxProblem:
    """Why a file could not be parsed, and where."""

    message: str
    span: Span


@dataclass(slots=True)
class ParsedFile:
    """One source file: its body, or the syntax problem that stopped the parser; and the rules
    that ``# templater:ignore RULE[,RULE]`` comments silence, by line."""

    path: str
    body: Body | None
    problem: SyntaxProblem | None
    ignores: dict[int, frozenset[str]] = field(default_factory=dict)


def syntax_message(summary: str, detail: str) -> str:
    """A syntax error as one line: Terraform's summary, then its detail (paragraphs joined)."""
    paragraphs = (paragraph.strip() for paragraph in detail.split("\n\n"))
    return f"{summary}: {' '.join(paragraphs)}"


def hcl_range(span: Span) -> str:
    """A span as Terraform writes one inside a message: ``main.tf:3,3-7``, or
    ``main.tf:3,3-4,1`` across lines."""
    if span.end_line == span.line:
        return f"{span.file}:{span.line},{span.column}-{span.end_column}"
    return f"{span.file}:{span.line},{span.column}-{span.end_line},{span.end_column}"


def redefinition_message(body: Body, duplicate: Attribute) -> str:
    """What Terraform says of an argument given a second time in the same body."""
    first = body.attributes[duplicate.name]
    if duplicate.name_span.file.endswith(".json"):  # hcl's JSON syntax, in its own words
        where = hcl_range(first.span)
        return f'Duplicate argument: The argument "{duplicate.name}" was already set at {where}.'
    return syntax_message(
        "Attribute redefined",
        f'The argument "{duplicate.name}" was already set at {hcl_range(first.name_span)}. '
        "Each argument may be set only once.",
    )


def redefinitions(body: Body) -> list[tuple[Span, str]]:
    """Every argument given again in ``body`` or in its blocks, however deeply nested: where
    (the second name) and what Terraform says, in the order of the file."""
    found: list[tuple[Span, str]] = []
    bodies = [body]
    while bodies:
        current = bodies.pop()
        found.extend(
            (duplicate.name_span, redefinition_message(current, duplicate))
            for duplicate in current.duplicates
        )
        bodies.extend(block.body for block in current.blocks)
    return sorted(found, key=lambda item: (item[0].line, item[0].column))


class ParseError(Exception):
    """Text that is not valid HCL, with the place the parser could tell."""

    def __init__(self, message: str, span: Span) -> None:
        super().__init__(message)
        self.message = message
        self.span = span
