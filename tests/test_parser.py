"""The parser: python-hcl2's grammar into positioned syntax, heredocs, CRLF, JSON, errors."""

from __future__ import annotations

import pytest

from templater.engine.parser import ParseError, parse_expression, parse_file, parse_text
from templater.engine.syntax import (
    Attribute,
    Body,
    FunctionCall,
    GetAttr,
    Interpolation,
    Literal,
    Span,
    Template,
)


def attribute(body: Body, *path: str) -> Attribute:
    """The attribute at the end of a path of block types and an attribute name."""
    *blocks, name = path
    for block_type in blocks:
        body = body.blocks_of(block_type)[0].body
    return body.attributes[name]


def test_every_node_keeps_line_and_columns() -> None:
    body = parse_text(
        'resource "coder_app" "code" {\n  slug = "code-server"\n  url  = coder_agent.dev.id\n}\n',
        "main.tf",
    )
    block = body.blocks[0]
    assert block.labels == ["coder_app", "code"]
    assert block.span == Span("main.tf", 1, 1, 1, 28)
    slug = block.body.attributes["slug"]
    assert slug.expr.span == Span("main.tf", 2, 10, 2, 23)
    assert slug.name_span == Span("main.tf", 2, 3, 2, 7)
    url = block.body.attributes["url"].expr
    assert isinstance(url, GetAttr) and url.name == "id"
    assert url.span == Span("main.tf", 3, 10, 3, 28)


def test_heredoc_values_and_interpolation_positions() -> None:
    text = "locals {\n  script = <<-EOT\n    echo ${var.port} >log\n      indented\n  EOT\n}\n"
    expr = attribute(parse_text(text, "m.tf"), "locals", "script").expr
    assert isinstance(expr, Template)
    assert expr.parts[0] == "echo "
    interpolation = expr.parts[1]
    assert isinstance(interpolation, Interpolation)
    # `var.port` is on line 3 at column 12 of the file, not of the heredoc.
    assert interpolation.expr.span == Span("m.tf", 3, 12, 3, 20)
    # Only indentation goes: the blank after the interpolation stays.
    assert expr.parts[2] == " >log\n  indented\n"


def test_heredoc_closing_marker_with_trailing_blanks_is_accepted_in_place() -> None:
    text = 'locals {\n  a = <<EOF\nhello\nEOF   \n  b = "after"\n}\n'
    body = parse_text(text, "m.tf")
    assert attribute(body, "locals", "a").expr.span.line == 2
    b = attribute(body, "locals", "b")
    assert isinstance(b.expr, Literal) and b.expr.value == "after"
    assert b.expr.span == Span("m.tf", 5, 7, 5, 14)


def test_crlf_files_parse_with_the_same_positions() -> None:
    text = 'variable "x" {\r\n  default = "v"\r\n}\r\n'
    body = parse_text(text, "crlf.tf")
    default = attribute(body, "variable", "default")
    assert isinstance(default.expr, Literal) and default.expr.value == "v"
    assert default.expr.span == Span("crlf.tf", 2, 13, 2, 16)


def test_template_directives_with_strip_markers() -> None:
    expr = parse_expression('"%{ if x ~} yes %{~ else } no %{ endif }"', "t.tf")
    assert isinstance(expr, Template)
    assert len(expr.parts) == 1


def test_escapes_in_quoted_strings() -> None:
    expr = parse_expression(r'"a\"b\\c\n$${literal}"', "t.tf")
    assert isinstance(expr, Literal)
    assert expr.value == 'a"b\\c\n${literal}'


def test_function_call_with_expansion() -> None:
    expr = parse_expression("concat(a, b...)", "t.tf")
    assert isinstance(expr, FunctionCall)
    assert expr.name == "concat" and expr.expand_final and len(expr.args) == 2


def test_syntax_error_is_a_value_with_its_position() -> None:
    parsed = parse_file("bad.tf", 'resource "coder_app" "x" {\n  slug = "a" "b"\n}\n')
    assert parsed.body is None and parsed.problem is not None
    assert parsed.problem.span == Span("bad.tf", 2, 14, 2, 15)
    assert parsed.problem.message.startswith("Missing newline after argument: ")


def test_unclosed_block_reports_its_opening_brace() -> None:
    parsed = parse_file("bad.tf", 'resource "coder_app" "x" {\n  slug = "a"\n')
    assert parsed.problem is not None
    assert parsed.problem.span == Span("bad.tf", 1, 26, 1, 27)
    assert parsed.problem.message.startswith("Unclosed configuration block: ")


def test_unclosed_template_directive_is_a_syntax_error() -> None:
    with pytest.raises(ParseError) as raised:
        parse_text("x = <<EOT\n%{ if true }\nEOT\n", "m.tf")
    assert raised.value.message == (
        "Unexpected end of template: The if directive at m.tf:2,1-13 is missing its "
        "corresponding endif directive."
    )
    assert raised.value.span == Span("m.tf", 3, 1, 3, 4)


def test_tf_json_maps_to_blocks_with_positions() -> None:
    text = (
        "{\n"
        '  "resource": {\n'
        '    "coder_app": {\n'
        '      "web": {"slug": "web", "healthcheck": {"url": "http://localhost:1", "interval": 5}}\n'
        "    }\n"
        "  },\n"
        '  "variable": {"port": {"type": "number", "default": 8080}}\n'
        "}\n"
    )
    parsed = parse_file("main.tf.json", text)
    assert parsed.problem is None and parsed.body is not None
    resource, variable = parsed.body.blocks
    assert resource.labels == ["coder_app", "web"]
    slug = resource.body.attributes["slug"]
    assert slug.expr.span == Span("main.tf.json", 4, 23, 4, 28)
    healthcheck = resource.body.blocks_of("healthcheck")[0]
    assert healthcheck.body.attributes["interval"].expr.span.line == 4
    assert variable.labels == ["port"]


@pytest.mark.parametrize(
    ("text", "name", "count"),
    [
        ('core::upper("a")', "core::upper", 1),
        ('provider::aws::arn_parse("arn:aws:s3:::b")', "provider::aws::arn_parse", 1),
        ("core::max(1, 2)", "core::max", 2),
    ],
)
def test_namespaced_function_names_parse(text: str, name: str, count: int) -> None:
    expr = parse_expression(text, "t.tf")
    assert isinstance(expr, FunctionCall)
    assert expr.name == name and len(expr.args) == count
    assert expr.span == Span("t.tf", 1, 1, 1, len(text) + 1)


def test_core_function_in_an_attribute() -> None:
    body = parse_text('locals {\n  x = core::upper("a")\n}\n', "main.tf")
    call = attribute(body, "locals", "x").expr
    assert isinstance(call, FunctionCall) and call.name == "core::upper"
    assert call.span == Span("main.tf", 2, 7, 2, 23)
