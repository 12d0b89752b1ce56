"""What ``templater inspect`` shows: resolved agents and apps, every value with its position."""

from __future__ import annotations

from typing import Any

from templater.engine.evaluate import Evaluation, ResolvedAttribute, ResolvedBlock, ResolvedResource
from templater.engine.syntax import Span
from templater.engine.values import render, to_json_value

INSPECTED_TYPES = ("coder_agent", "coder_app")


def inspected(evaluation: Evaluation) -> list[ResolvedResource]:
    return [r for r in evaluation.resources if r.type in INSPECTED_TYPES and r.mode == "managed"]


def _position(span: Span) -> dict[str, Any]:
    return {
        "file": span.file,
        "line": span.line,
        "column": span.column,
        "end_line": span.end_line,
        "end_column": span.end_column,
    }


def _attribute_json(attribute: ResolvedAttribute) -> dict[str, Any]:
    entry: dict[str, Any] = {"value": to_json_value(attribute.value), **_position(attribute.span)}
    if attribute.origin != attribute.span:
        entry["origin"] = _position(attribute.origin)
    return entry


def _block_json(block: ResolvedBlock) -> dict[str, Any]:
    return {
        "type": block.type,
        "line": block.span.line,
        "repeated": block.repeated,
        "attributes": {name: _attribute_json(a) for name, a in block.attributes.items()},
        "blocks": [_block_json(nested) for nested in block.blocks],
    }


def resource_json(resource: ResolvedResource) -> dict[str, Any]:
    return {
        "address": resource.address,
        "type": resource.type,
        "name": resource.name,
        "module": resource.module_address or None,
        "expanded": resource.expanded,
        "file": resource.span.file,
        "line": resource.span.line,
        "column": resource.span.column,
        "attributes": {name: _attribute_json(a) for name, a in resource.attributes.items()},
        "blocks": [_block_json(nested) for nested in resource.body.blocks],
    }


def _where(span: Span) -> str:
    return f"{span.file}:{span.line}:{span.column}"


def _text_lines(block: ResolvedBlock, indent: str) -> list[str]:
    width = max((len(name) for name in block.attributes), default=0)
    lines = []
    for name, attribute in block.attributes.items():
        origin = attribute.origin
        via = f"  ← {_where(origin)}" if origin != attribute.span else ""
        value = render(attribute.value)
        lines.append(f"{indent}{name.ljust(width)} = {value}    # {_where(attribute.span)}{via}")
    for nested in block.blocks:
        note = "  # for each element of an unknown collection" if nested.repeated else ""
        lines.append(f"{indent}{nested.type} {{{note}")
        lines.extend(_text_lines(nested, indent + "  "))
        lines.append(f"{indent}}}")
    return lines


def resource_text(resource: ResolvedResource) -> str:
    note = "" if resource.expanded else "  (instances not known: checked once as written)"
    header = f"{resource.address}  {_where(resource.span)}{note}"
    return "\n".join([header, *_text_lines(resource.body, "  ")])
