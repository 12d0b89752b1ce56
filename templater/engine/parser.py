"""Parse Terraform files into :mod:`templater.engine.syntax` trees with python-hcl2's grammar.

python-hcl2's ``loads()`` drops positions and builds round-trip objects we do not need: the
grammar itself runs in :mod:`templater.engine.grammar`, string templates are assembled in
:mod:`templater.engine.templates`. This module is what surrounds them: the public entry points,
heredoc markers, the JSON syntax, ignore comments.
"""

from __future__ import annotations

import re
from typing import Any

from templater.engine.syntax import (
    Attribute,
    Block,
    Body,
    Expr,
    Literal,
    ObjectExpr,
    ParsedFile,
    ParseError,
    Span,
    SyntaxProblem,
    TupleExpr,
    syntax_message,
)
from templater.engine.templates import HEREDOC_OPENER, scan_template, template_expr

__all__ = [
    "ParseError",
    "parse_expression",
    "parse_file",
    "parse_template",
    "parse_text",
    "parse_variables_file",
]


# ----------------------------------------------------------------------------- public API


def parse_file(path: str, text: str) -> ParsedFile:
    """Parse one ``.tf`` or ``.tf.json`` file; a syntax error is returned, never raised."""
    if path.endswith(".json"):
        return _parse_json_file(path, text)
    ignores = _ignore_comments(text)
    try:
        body = parse_text(text, path)
    except ParseError as error:
        return ParsedFile(path, None, SyntaxProblem(error.message, error.span), ignores)
    return ParsedFile(path, body, None, ignores)


_IGNORE_COMMENT = re.compile(
    r"(?:#|//)\s*templater:ignore\s+([A-Za-z0-9_-]+(?:\s*,\s*[A-Za-z0-9_-]+)*)"
)


def _ignore_comments(text: str) -> dict[int, frozenset[str]]:
    """Lines whose findings ``# templater:ignore RULE[,RULE]`` silences: the comment's own line
    when it ends a line of code, the next line when it stands alone."""
    if "templater:ignore" not in text:
        return {}
    ignores: dict[int, frozenset[str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = _IGNORE_COMMENT.search(line)
        if match is None:
            continue
        rules = frozenset(name.strip() for name in match.group(1).split(","))
        target = number + 1 if not line[: match.start()].strip() else number
        ignores[target] = ignores.get(target, frozenset()) | rules
    return ignores


def parse_variables_file(path: str, text: str) -> ParsedFile:
    """A ``.tfvars`` file (HCL attributes) or ``.tfvars.json`` file (one JSON object)."""
    if not path.endswith(".json"):
        return parse_file(path, text)
    try:
        document = _json_document(path, text)
        return ParsedFile(path, _json_body(document, "locals"), None)
    except ParseError as error:
        return ParsedFile(path, None, SyntaxProblem(error.message, error.span))


def parse_text(text: str, file: str) -> Body:
    """Parse HCL native syntax; raises :class:`ParseError` on a syntax error."""
    if text.startswith("\ufeff"):
        text = " " + text[1:]  # a byte-order mark, kept as one column so nothing moves
    if "<<" in text:
        text = _tolerate_blanks_after_heredoc_marker(text)
    try:
        body = _run_parser(text, file, 0, 0)
    except ParseError as error:
        raise _in_terraform_words(error, text, file, "config") from None
    assert isinstance(body, Body)
    return body


def parse_expression(text: str, file: str, line: int = 1, column: int = 1) -> Expr:
    """Parse one expression that starts at ``line``:``column`` of ``file``."""
    try:
        return _grammar_expression(text, file, line, column)
    except ParseError as error:
        raise _in_terraform_words(error, text, file, "expression", line, column) from None


def parse_template(text: str, file: str, line: int = 1, column: int = 1) -> Expr:
    """Parse a whole string template (a ``templatefile`` file, a heredoc body)."""
    try:
        flat = scan_template(text, file, line, column, _grammar_expression)
        return template_expr(flat, Span(file, line, column, *_end_of(text, line, column)))
    except ParseError as error:
        raise _in_terraform_words(error, text, file, "template", line, column) from None


def _run_parser(text: str, file: str, line_shift: int, column_shift: int) -> Any:
    # The grammar pulls in Lark; a run whose files all come from the parse cache never needs it.
    from templater.engine import grammar

    return grammar.run(text, file, line_shift, column_shift)


def _grammar_expression(text: str, file: str, line: int, column: int) -> Expr:
    from templater.engine import grammar

    return grammar.parse_expression(text, file, line, column)


def _in_terraform_words(
    error: ParseError, text: str, file: str, mode: str, line: int = 1, column: int = 1
) -> ParseError:
    """The syntax error Terraform would report instead of what the grammar could tell (the
    token it did not expect, in its terms, often lines after the mistake). When HCL's parser
    finds nothing wrong, it is a construct only templater's grammar does not take."""
    from templater.engine import grammar

    try:
        found = grammar.terraform_error(text, file, mode, line, column)
    except RecursionError:  # too deep to be read again: what the grammar could tell
        return ParseError(syntax_message("Invalid syntax", f"{error.message}."), error.span)
    if found is not None:
        return found
    detail = f"templater cannot read this, although Terraform can ({error.message})."
    return ParseError(syntax_message("Unsupported syntax", detail), error.span)


def _end_of(text: str, line: int, column: int) -> tuple[int, int]:
    newlines = text.count("\n")
    if newlines == 0:
        return line, column + len(text)
    return line + newlines, len(text) - text.rfind("\n")


# ----------------------------------------------------------------------------- heredocs


def _tolerate_blanks_after_heredoc_marker(text: str) -> str:
    """Drop blanks after a heredoc's closing marker, which Terraform accepts and the grammar not.

    Only characters at the end of a line go, so no line or column of anything else moves.
    """
    position = 0
    while (opener := HEREDOC_OPENER.search(text, position)) is not None:
        closer = re.compile(rf"^[ \t]*{re.escape(opener.group(1))}([ \t]*)\r?$", re.M)
        end = closer.search(text, opener.end())
        if end is None:
            break
        if end.group(1):
            text = text[: end.start(1)] + text[end.end(1) :]
        position = end.start(1)
    return text


# ----------------------------------------------------------------------------- JSON syntax

# Nested block types that Terraform's JSON syntax cannot tell from attributes without a schema.
_JSON_BLOCK_TYPES = frozenset(
    {
        "healthcheck",
        "validation",
        "lifecycle",
        "provisioner",
        "connection",
        "dynamic",
        "content",
        "metadata",
        "display_apps",
        "resources_monitoring",
        "option",
        "precondition",
        "postcondition",
        "required_providers",
        "backend",
        "memory",
        "volume",
    }
)
# Top-level keys and how many labels their blocks carry.
_JSON_TOP_LEVEL = {
    "resource": 2,
    "data": 2,
    "variable": 1,
    "output": 1,
    "module": 1,
    "provider": 1,
    "locals": 0,
    "terraform": 0,
    "check": 1,
    "moved": 0,
    "import": 0,
}


def _parse_json_file(path: str, text: str) -> ParsedFile:
    try:
        return ParsedFile(path, _json_top_level(_json_document(path, text)), None)
    except ParseError as error:
        return ParsedFile(path, None, SyntaxProblem(error.message, error.span))


def _json_document(path: str, text: str) -> ObjectExpr:
    """The one object a JSON file holds, parsed by the HCL grammar (JSON is nearly HCL)."""
    try:
        body = _run_parser(f"x={text}", path, 0, -2)
    except ParseError as error:
        raise ParseError(f"Invalid JSON: {error.message}", error.span) from None
    value = body.attributes.get("x") if isinstance(body, Body) else None
    if value is None or not isinstance(value.expr, ObjectExpr) or len(body.attributes) != 1:
        span = value.expr.span if value else Span(path, 1, 1, 1, 2)
        raise ParseError("a JSON file here must hold one JSON object", span)
    return value.expr


def _json_key(key: Expr) -> str:
    if isinstance(key, Literal) and isinstance(key.value, str):
        return key.value
    raise ParseError("a JSON object key must be a literal string", key.span)


def _json_objects(value: Expr) -> list[ObjectExpr]:
    """A block's JSON value: one object, or an array of objects for repeated blocks."""
    if isinstance(value, ObjectExpr):
        return [value]
    if isinstance(value, TupleExpr) and all(isinstance(item, ObjectExpr) for item in value.items):
        return [item for item in value.items if isinstance(item, ObjectExpr)]
    raise ParseError("a JSON block must be an object or an array of objects", value.span)


def _json_top_level(document: ObjectExpr) -> Body:
    blocks: list[Block] = []
    attributes: dict[str, Attribute] = {}
    for key_expr, value in document.items:
        key = _json_key(key_expr)
        if key == "//":
            continue
        labels = _JSON_TOP_LEVEL.get(key)
        if labels is None:
            raise ParseError(f'unsupported top-level JSON key "{key}"', key_expr.span)
        if key == "locals":
            for obj in _json_objects(value):
                attributes.update(_json_body(obj, key).attributes)
            continue
        blocks.extend(_json_labelled(key, key_expr.span, value, [], [], labels))
    return Body(attributes, blocks, [], document.span)


def _json_labelled(
    type: str,
    type_span: Span,
    value: Expr,
    labels: list[str],
    label_spans: list[Span],
    remaining: int,
) -> list[Block]:
    """The blocks of a JSON object nested one level per label: {"type": {"label": {body}}}."""
    if remaining == 0:
        header = type_span.to(label_spans[-1]) if label_spans else type_span
        return [
            Block(type, labels, _json_body(obj, type), type_span, header, label_spans)
            for obj in _json_objects(value)
        ]
    if not isinstance(value, ObjectExpr):
        raise ParseError(f"{type} must be an object keyed by its label", value.span)
    blocks: list[Block] = []
    for key_expr, inner in value.items:
        blocks.extend(
            _json_labelled(
                type,
                type_span,
                inner,
                [*labels, _json_key(key_expr)],
                [*label_spans, key_expr.span],
                remaining - 1,
            )
        )
    return blocks


def _json_body(obj: ObjectExpr, block_type: str) -> Body:
    attributes: dict[str, Attribute] = {}
    blocks: list[Block] = []
    duplicates: list[Attribute] = []
    for key_expr, value in obj.items:
        name = _json_key(key_expr)
        if name == "//":
            continue
        if name in _JSON_BLOCK_TYPES and block_type != "locals":
            if name == "dynamic":
                blocks.extend(_json_labelled(name, key_expr.span, value, [], [], 1))
            else:
                blocks.extend(_json_labelled(name, key_expr.span, value, [], [], 0))
            continue
        if block_type == "variable" and name == "type" and isinstance(value, Literal):
            # JSON writes a type constraint as a string holding the type expression.
            value = parse_expression(
                str(value.value), value.span.file, value.span.line, value.span.column + 1
            )
        attribute = Attribute(name, value, key_expr.span, key_expr.span.to(value.span))
        if name in attributes:
            duplicates.append(attribute)
        else:
            attributes[name] = attribute
    return Body(attributes, blocks, duplicates, obj.span)
