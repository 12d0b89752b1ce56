"""What evaluating a template gives: every resource instance resolved, each attribute with its
value, where it is written and where its value was written, and the diagnostics on the way."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from templater.engine.addresses import block_address
from templater.engine.diagnostics import Diagnostic
from templater.engine.expressions import Scope, value_origin
from templater.engine.loader import Module
from templater.engine.syntax import Attribute, Expr, Span
from templater.engine.values import Value


class ResolvedAttribute:
    """An attribute's value, where it is written, and where the value itself was written."""

    __slots__ = ("_origin", "_scope", "attribute", "unset_variables", "value")

    def __init__(
        self,
        attribute: Attribute,
        value: Value,
        scope: Scope,
        unset_variables: frozenset[str] = frozenset(),
    ) -> None:
        self.attribute = attribute
        self.value = value
        self._scope = scope
        self._origin: Span | None = None
        # The root variables without a value that the value was made from.
        self.unset_variables = unset_variables

    @property
    def name(self) -> str:
        return self.attribute.name

    @property
    def expr(self) -> Expr:
        return self.attribute.expr

    @property
    def span(self) -> Span:
        """The attribute's expression."""
        return self.attribute.expr.span

    @property
    def name_span(self) -> Span:
        return self.attribute.name_span

    @property
    def origin(self) -> Span:
        """The literal behind the value: a variable default, a module input, a local's value,
        the chosen branch of a conditional; the attribute's own expression otherwise."""
        if self._origin is None:
            self._origin = value_origin(self.expr, self._scope)
        return self._origin


@dataclass(slots=True)
class ResolvedBlock:
    type: str
    labels: list[str]
    span: Span
    attributes: dict[str, ResolvedAttribute]
    blocks: list[ResolvedBlock]
    # A block from a `dynamic` whose for_each is unknown: it stands for any number of blocks.
    repeated: bool = False

    def blocks_of(self, type: str) -> list[ResolvedBlock]:
        return [block for block in self.blocks if block.type == type]

    def to_value(self) -> dict[str, Value]:
        value: dict[str, Value] = {name: attr.value for name, attr in self.attributes.items()}
        for block in self.blocks:
            value.setdefault(block.type, []).append(block.to_value())
        return value


@dataclass(slots=True)
class ResolvedResource:
    """One instance of a resource or data block, or the block itself when its instances are not
    known (``expanded`` false: count or for_each unknown or empty; checked once, as a template).

    ``presence`` says whether it will exist: "certain", "none" (the template of a block whose
    count, for_each or module count is known to make no instance), or "unknown"."""

    address: str
    mode: str
    type: str
    name: str
    key: int | str | None
    expanded: bool
    module_address: str
    span: Span
    name_span: Span
    body: ResolvedBlock
    presence: str = "certain"
    # The root variables without a value that leave its count or for_each unknown.
    count_unset: frozenset[str] = frozenset()

    @property
    def attributes(self) -> dict[str, ResolvedAttribute]:
        return self.body.attributes

    @property
    def block_address(self) -> str:
        """The address of the block this is an instance of, in any module instance."""
        return block_address(self.address)


@dataclass(slots=True)
class Evaluation:
    directory: Path
    modules: list[Module]
    resources: list[ResolvedResource]
    diagnostics: list[Diagnostic]

    def of_type(self, *types: str) -> list[ResolvedResource]:
        return [resource for resource in self.resources if resource.type in types]

    def instance_counts(self) -> dict[str, int]:
        """How many instances each block has, across the instances of its modules."""
        counts: dict[str, int] = {}
        for resource in self.resources:
            counts[resource.block_address] = counts.get(resource.block_address, 0) + 1
        return counts
