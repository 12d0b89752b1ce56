"""Syntax errors as Terraform reports them: its summary and detail, at its line and column.

Every expectation below is the first diagnostic ``terraform validate`` (Terraform 1.11.4) gives
for the same main.tf, word for word; only the file name, line and column are checked, and the
message is Terraform's summary, ": ", then its detail (paragraphs joined by a space).
"""

from __future__ import annotations

import re

import pytest

from templater.engine.grammar import grammar_text, terraform_error
from templater.engine.parser import (
    ParseError,
    parse_expression,
    parse_file,
    parse_template,
    parse_text,
)
from templater.engine.syntax import FunctionCall, Span, redefinition_message, redefinitions

UNTERMINATED_TEMPLATE_STRING = (
    "Unterminated template string: No closing marker was found for the string."
)
INVALID_MULTI_LINE_STRING = 'Invalid multi-line string: Quoted strings may not be split over multiple lines. To produce a multi-line string, either use the \\n escape to represent a newline character or use the "heredoc" multi-line template syntax.'
UNCLOSED_CONFIGURATION_BLOCK = "Unclosed configuration block: There is no closing brace for this block before the end of the file. This may be caused by incorrect brace nesting elsewhere in this file."
MISSING_ITEM_SEPARATOR = (
    "Missing item separator: Expected a comma to mark the beginning of the next item."
)
MISSING_ATTRIBUTE_SEPARATOR = "Missing attribute separator: Expected a newline or comma to mark the beginning of the next attribute."
UNBALANCED_PARENTHESES = (
    "Unbalanced parentheses: Expected a closing parenthesis to terminate the expression."
)
MISSING_ARGUMENT_SEPARATOR = "Missing argument separator: A comma is required to separate each function argument from the next."
EXTRA_CHARACTERS_AFTER_INTERPOLATION_EXPRESSION = 'Extra characters after interpolation expression: Expected a closing brace to end the interpolation expression, but found extra characters. This can happen when you include interpolation syntax for another language, such as shell scripting, but forget to escape the interpolation start token. If this is an embedded sequence for another language, escape it by starting with "$${" instead of just "${".'
INVALID_EXPRESSION = "Invalid expression: Expected the start of an expression, but found an invalid expression token."
INVALID_BLOCK_DEFINITION = 'Invalid block definition: A block definition must have block content delimited by "{" and "}", starting on the same line as the block header.'
ARGUMENT_OR_BLOCK_DEFINITION_REQUIRED = 'Argument or block definition required: An argument or block definition is required here. To set an argument, use the equals sign "=" to introduce the argument value.'
MISSING_NEWLINE_AFTER_ARGUMENT = (
    "Missing newline after argument: An argument definition must end with a newline."
)
INVALID_CHARACTER = "Invalid character: This character is not used within the language."
INVALID_CHARACTER_2 = 'Invalid character: The ";" character is not valid. Use newlines to separate arguments and blocks, and commas to separate items in collection values.'
INVALID_SINGLE_ARGUMENT_BLOCK_DEFINITION = "Invalid single-argument block definition: An argument definition on the same line as its containing block creates a single-line block definition, which must also be closed on the same line. Place the block's closing brace immediately after the argument definition."

CASES = [
    # strings left open or split over lines
    pytest.param('a = "abc', 1, 9, UNTERMINATED_TEMPLATE_STRING, id="string-eof"),
    pytest.param('a = "abc\n', 1, 9, INVALID_MULTI_LINE_STRING, id="string-eol"),
    pytest.param(
        'resource "coder_app" "x" {\n  agent_id = "a"\n  slug = "x"\n  url = "http://localhost\n  share = "owner"\n}\n',
        4,
        26,
        INVALID_MULTI_LINE_STRING,
        id="string-in-block",
    ),
    pytest.param('a = "abc\ndef"\n', 1, 9, INVALID_MULTI_LINE_STRING, id="string-two-lines"),
    pytest.param(
        'resource "coder_app" "web" {\n  agent_id     = coder_agent.main.id\n  slug         = "web"\n  display_name = "Web\n  url          = "http://localhost:8080"\n}\n',
        4,
        22,
        INVALID_MULTI_LINE_STRING,
        id="app-realistic",
    ),
    pytest.param('resource "a\n" {}\n', 1, 12, INVALID_MULTI_LINE_STRING, id="label-newline"),
    pytest.param(
        'locals {\r\n  a = "abc\r\n}\r\n', 2, 11, INVALID_MULTI_LINE_STRING, id="crlf-string"
    ),
    # braces
    pytest.param(
        'resource "coder_agent" "main" {\n  os = "linux"\n\nresource "coder_app" "web" {\n  agent_id = coder_agent.main.id\n  slug     = "web"\n}\n',
        1,
        31,
        UNCLOSED_CONFIGURATION_BLOCK,
        id="block-unclosed",
    ),
    pytest.param(
        'resource "coder_agent" "main" {\n  os = "linux"\n',
        1,
        31,
        UNCLOSED_CONFIGURATION_BLOCK,
        id="block-unclosed-eof",
    ),
    pytest.param(
        "locals {\n  a = {\n    b = 1\n  c = 2\n}\n",
        1,
        8,
        UNCLOSED_CONFIGURATION_BLOCK,
        id="object-unclosed-then-attr",
    ),
    pytest.param(
        "a = 1\n}\n",
        2,
        1,
        "Argument or block definition required: An argument or block definition is required here.",
        id="extra-close",
    ),
    pytest.param(
        'variable "x" {\n  default = 1\n}}\n',
        3,
        2,
        "Missing newline after block definition: A block definition must end with a newline.",
        id="extra-close-block",
    ),
    # brackets
    pytest.param(
        "a = [1, 2\n",
        1,
        5,
        "Unterminated tuple constructor expression: There is no corresponding closing bracket before the end of the file. This may be caused by incorrect bracket nesting elsewhere in this file.",
        id="tuple-unclosed-eof",
    ),
    pytest.param(
        "locals {\n  a = [1, 2\n  b = 3\n}\n",
        3,
        3,
        MISSING_ITEM_SEPARATOR,
        id="tuple-unclosed-then-attr",
    ),
    pytest.param("a = [ {b = 1 ]\n", 1, 14, MISSING_ATTRIBUTE_SEPARATOR, id="nested-mismatch"),
    # parentheses
    pytest.param("locals {\n  x = (1 + 2\n}\n", 3, 1, UNBALANCED_PARENTHESES, id="paren-unclosed"),
    pytest.param("x = (1 + 2\n", 2, 1, UNBALANCED_PARENTHESES, id="paren-unclosed-eof"),
    pytest.param(
        "locals {\n  x = max(1, 2\n}\n", 3, 1, MISSING_ARGUMENT_SEPARATOR, id="call-unclosed"
    ),
    pytest.param(
        "x = max(1, 2\n",
        1,
        5,
        "Unterminated function call: There is no closing parenthesis for this function call before the end of the file. This may be caused by incorrect parenthesis nesting elsewhere in this file.",
        id="call-unclosed-eof",
    ),
    # heredocs
    pytest.param(
        "locals {\n  a = <<EOT\nhello\n}\n",
        5,
        1,
        UNTERMINATED_TEMPLATE_STRING,
        id="heredoc-unclosed",
    ),
    pytest.param(
        "locals {\n  a = <<-EOT\n    hello\n  EOX\n}\n",
        6,
        1,
        UNTERMINATED_TEMPLATE_STRING,
        id="heredoc-unclosed-indented",
    ),
    pytest.param(
        "x = <<EOT\n%{ if true }\nEOT\n",
        3,
        1,
        "Unexpected end of template: The if directive at main.tf:2,1-13 is missing its corresponding endif directive.",
        id="heredoc-if-unclosed",
    ),
    # interpolations
    pytest.param(
        'a = "${var.x\n',
        1,
        6,
        "Unclosed template interpolation sequence: There is no closing brace for this interpolation sequence before the end of the file. This might be caused by incorrect nesting inside the given expression.",
        id="interp-unclosed-eol",
    ),
    pytest.param('a = "${var.x"\n', 1, 14, INVALID_MULTI_LINE_STRING, id="interp-unclosed-quote"),
    pytest.param(
        'a = "${ x y }"\n',
        1,
        11,
        EXTRA_CHARACTERS_AFTER_INTERPOLATION_EXPRESSION,
        id="interp-extra",
    ),
    pytest.param(
        "a = <<EOT\n${var.x\nEOT\n",
        3,
        1,
        EXTRA_CHARACTERS_AFTER_INTERPOLATION_EXPRESSION,
        id="interp-unclosed-heredoc",
    ),
    pytest.param(
        'a = "${x:y}"\n',
        1,
        9,
        'Extra characters after interpolation expression: Template interpolation doesn\'t expect a colon at this location. Did you intend this to be a literal sequence to be processed as part of another language? If so, you can escape it by starting with "$${" instead of just "${".',
        id="interp-colon",
    ),
    pytest.param(
        "locals {\n  a = <<-EOT\n    ${ upper( }\n  EOT\n}\n",
        3,
        15,
        INVALID_EXPRESSION,
        id="nested-error-in-heredoc-block",
    ),
    # a missing or misplaced equals sign
    pytest.param(
        'resource "coder_app" "x" {\n  slug "web"\n  url = "x"\n}\n',
        2,
        13,
        INVALID_BLOCK_DEFINITION,
        id="missing-eq-block",
    ),
    pytest.param('slug "web"\n', 1, 11, INVALID_BLOCK_DEFINITION, id="missing-eq-top"),
    pytest.param(
        'locals {\r\n  a "b"\r\n}\r\n', 2, 8, INVALID_BLOCK_DEFINITION, id="crlf-missing-eq"
    ),
    pytest.param(
        'resource "coder_app" "x" {\n  port 8080\n}\n',
        2,
        3,
        ARGUMENT_OR_BLOCK_DEFINITION_REQUIRED,
        id="missing-eq-number",
    ),
    pytest.param(
        'resource "coder_app" "x" {\n  slug\n}\n',
        2,
        3,
        ARGUMENT_OR_BLOCK_DEFINITION_REQUIRED,
        id="missing-eq-ident-eol",
    ),
    pytest.param(
        'module "web" {\n  source = "./x"\n  count == 1\n}\n',
        3,
        3,
        ARGUMENT_OR_BLOCK_DEFINITION_REQUIRED,
        id="module-eq",
    ),
    pytest.param(
        'resource "a" "b" = {\n}\n',
        1,
        18,
        'Invalid block definition: The equals sign "=" indicates an argument definition, and must not be used when defining a block.',
        id="block-eq",
    ),
    # values and line ends
    pytest.param(
        'resource "coder_app" "web" {\n  agent_id = coder_agent.main.id\n  slug     =\n}\n',
        3,
        13,
        INVALID_EXPRESSION,
        id="missing-value",
    ),
    pytest.param(
        "a =",
        1,
        4,
        "Missing expression: Expected the start of an expression, but found the end of the file.",
        id="missing-value-eof",
    ),
    pytest.param(
        'resource "coder_app" "x" {\n  slug = = "a"\n}\n',
        2,
        10,
        INVALID_EXPRESSION,
        id="double-eq-cli",
    ),
    pytest.param(
        'resource "coder_app" "x" {\n  slug = "a" "b"\n}\n',
        2,
        14,
        MISSING_NEWLINE_AFTER_ARGUMENT,
        id="attr-value-then-string",
    ),
    pytest.param("a = 1 b = 2\n", 1, 7, MISSING_NEWLINE_AFTER_ARGUMENT, id="newline-after-arg"),
    pytest.param(
        "a = 1,\n",
        1,
        6,
        "Unexpected comma after argument: Argument definitions must be separated by newlines, not commas. An argument definition must end with a newline.",
        id="comma-after-arg",
    ),
    pytest.param(
        "a = 1 foo {\n}\n", 1, 7, MISSING_NEWLINE_AFTER_ARGUMENT, id="block-after-attr-same-line"
    ),
    # stray characters
    pytest.param("a = 1 @\n", 1, 7, INVALID_CHARACTER, id="stray-at"),
    pytest.param("locals {\n  @\n}\n", 2, 3, INVALID_CHARACTER, id="stray-at-line"),
    pytest.param("a = 1;\n", 1, 6, INVALID_CHARACTER_2, id="stray-semicolon"),
    pytest.param(
        "locals {\n  a = 1;\n  b = 2\n}\n", 2, 8, INVALID_CHARACTER_2, id="stray-semicolon-block"
    ),
    pytest.param(
        "a = “x”\n",
        1,
        5,
        'Invalid character: "Curly quotes" are not valid here. These can sometimes be inadvertently introduced when sharing code via documents or discussion forums. It might help to replace the character with a "straight quote".',
        id="curly-quotes",
    ),
    pytest.param(
        "a = 'x'\n",
        1,
        5,
        'Invalid character: Single quotes are not valid. Use double quotes (") to enclose strings.',
        id="single-quotes",
    ),
    pytest.param(
        "a = `x`\n",
        1,
        5,
        'Invalid character: The "`" character is not valid. To create a multi-line string, use the "heredoc" syntax, like "<<EOT".',
        id="backtick",
    ),
    pytest.param("a = 1 😀\n", 1, 7, INVALID_CHARACTER, id="emoji"),
    pytest.param('locals {\n  é = "ü" @\n}\n', 2, 11, INVALID_CHARACTER, id="unicode-col"),
    pytest.param(
        "a = 1 & 2\n",
        1,
        7,
        'Unsupported operator: Bitwise operators are not supported. Did you mean boolean AND ("&&")?',
        id="bitwise",
    ),
    # block headers
    pytest.param(
        'resource "coder_app" 5 {\n}\n',
        1,
        22,
        'Invalid block definition: Either a quoted string block label or an opening brace ("{") is expected here.',
        id="label-number",
    ),
    pytest.param(
        'resource "a${x}" "b" {\n}\n',
        1,
        12,
        'Invalid string literal: Template sequences are not allowed in this string. To include a literal "$", double it (as "$$") to escape it.',
        id="label-interp",
    ),
    pytest.param(
        'resource "a',
        1,
        12,
        "Unterminated string literal: Unable to find the closing quote mark before the end of the file.",
        id="label-eof",
    ),
    pytest.param('resource "a" "b"\n{\n}\n', 1, 17, INVALID_BLOCK_DEFINITION, id="block-newline"),
    pytest.param(
        'resource "a" "b" # hi\n{\n}\n', 1, 18, INVALID_BLOCK_DEFINITION, id="comment-newline-block"
    ),
    pytest.param(
        '"a" = 1\n',
        1,
        1,
        "Invalid argument name: Argument names must not be quoted.",
        id="quoted-name",
    ),
    # one-line blocks and block bodies
    pytest.param(
        "foo { a = 1, b = 2 }\n",
        1,
        12,
        "Invalid single-argument block definition: Single-line block syntax can include only one argument definition. To define multiple arguments, use the multi-line block syntax with one argument definition per line.",
        id="single-line-two",
    ),
    pytest.param(
        "foo { a = 1\n}\n", 1, 12, INVALID_SINGLE_ARGUMENT_BLOCK_DEFINITION, id="single-line-nl"
    ),
    pytest.param(
        "foo {\n  a = 1 }\n", 2, 9, MISSING_NEWLINE_AFTER_ARGUMENT, id="closing-brace-same-line"
    ),
    pytest.param(
        "foo { bar {} }\n",
        1,
        7,
        'Argument definition required: A single-line block definition can contain only a single argument. If you meant to define argument "bar", use an equals sign to assign it a value. To define a nested block, place it on a line of its own within its parent block.',
        id="attr-in-single-line-block-block",
    ),
    pytest.param(
        "foo { a = <<EOT\nx\nEOT\n}\n",
        3,
        4,
        INVALID_SINGLE_ARGUMENT_BLOCK_DEFINITION,
        id="inline-heredoc-block",
    ),
    # collections, calls and other expressions
    pytest.param(
        "a = { b }\n",
        1,
        9,
        'Missing key/value separator: Expected an equals sign ("=") to mark the beginning of the attribute value.',
        id="object-missing-value",
    ),
    pytest.param(
        "a = { b = 1 c = 2 }\n", 1, 13, MISSING_ATTRIBUTE_SEPARATOR, id="object-missing-attr-sep"
    ),
    pytest.param(
        "a = { b c }\n",
        1,
        9,
        'Missing key/value separator: Expected an equals sign ("=") to mark the beginning of the attribute value. If you intended to given an attribute name containing periods or spaces, write the name in quotes to create a string literal.',
        id="obj-key-ident-then-ident",
    ),
    pytest.param(
        "a = {\n  b\n}\n",
        2,
        4,
        'Missing attribute value: Expected an attribute value, introduced by an equals sign ("=").',
        id="missing-attr-value-newline",
    ),
    pytest.param("a = [1 2]\n", 1, 8, MISSING_ITEM_SEPARATOR, id="tuple-missing-sep"),
    pytest.param("a = f(1 2)\n", 1, 9, MISSING_ARGUMENT_SEPARATOR, id="call-missing-sep"),
    pytest.param(
        "a = x ? 1\n",
        1,
        10,
        "Missing false expression in conditional: The conditional operator (...?...:...) requires a false expression, delimited by a colon.",
        id="cond-missing-false",
    ),
    pytest.param(
        "a = b.\n",
        1,
        7,
        "Invalid attribute name: An attribute name is required after a dot.",
        id="dot-missing-name",
    ),
    pytest.param(
        "a = b[1\n",
        2,
        1,
        'Missing close bracket on index: The index operator must end with a closing bracket ("]").',
        id="index-unclosed",
    ),
    pytest.param(
        "a = [for x y : x]\n",
        1,
        12,
        "Invalid 'for' expression: For expression requires the 'in' keyword after its name declarations.",
        id="for-missing-in",
    ),
    pytest.param(
        "a = [for k, v in x : k => v]\n",
        1,
        22,
        "Invalid 'for' expression: Key expression is not valid when building a tuple.",
        id="for-key-in-tuple",
    ),
    # template directives
    pytest.param(
        'a = "%{ if true }x"\n',
        1,
        19,
        "Unexpected end of template: The if directive at main.tf:1,6-18 is missing its corresponding endif directive.",
        id="if-unclosed",
    ),
    pytest.param(
        'a = "x%{ endif }"\n',
        1,
        7,
        "Unexpected endif directive: The control directives within this template are unbalanced.",
        id="endif-alone",
    ),
    pytest.param(
        'a = "%{ if x }a%{ else }b%{ else }c%{ endif }"\n',
        1,
        26,
        "Unexpected else directive: Already in the else clause for the if started at main.tf:1,6-15.",
        id="else-twice",
    ),
    pytest.param(
        'a = "%{ foo }"\n',
        1,
        9,
        'Invalid template control keyword: "foo" is not a valid template control keyword. Did you mean "for"?',
        id="bad-directive",
    ),
    pytest.param(
        'a = "%{ for x in y }x"\n',
        1,
        22,
        "Unexpected end of template: The for directive at main.tf:1,6-21 is missing its corresponding endfor directive.",
        id="for-directive-unclosed",
    ),
    # escapes
    pytest.param(
        'a = "\\q"\n',
        1,
        6,
        'Invalid escape sequence: The symbol "q" is not a valid escape sequence selector.',
        id="invalid-escape",
    ),
    pytest.param(
        'a = "\\u12"\n',
        1,
        6,
        "Invalid escape sequence: The \\u escape sequence must be followed by four hexadecimal digits.",
        id="u-escape-short",
    ),
    pytest.param('a = "abc\\\n"\n', 1, 9, INVALID_CHARACTER, id="backslash-eol"),
    # an argument given twice, before another mistake
    pytest.param(
        "a = 1\na = 2\nb = [\n",
        2,
        1,
        'Attribute redefined: The argument "a" was already set at main.tf:1,1-2. Each argument may be set only once.',
        id="dup-after-error",
    ),
]


@pytest.mark.parametrize(("text", "line", "column", "message"), CASES)
def test_syntax_error_as_terraform_reports_it(
    text: str, line: int, column: int, message: str
) -> None:
    parsed = parse_file("main.tf", text)
    assert parsed.body is None and parsed.problem is not None
    span = parsed.problem.span
    assert (span.file, span.line, span.column, parsed.problem.message) == (
        "main.tf",
        line,
        column,
        message,
    )


PLACED = [
    pytest.param(
        "main.tf", "locals {\n  x = max(1, 2\n}\n", Span("main.tf", 3, 1, 3, 2), "", id="token"
    ),
    # At the end of the file, where there is no token, one column.
    pytest.param("main.tf", 'a = "abc', Span("main.tf", 1, 9, 1, 10), "", id="end-of-file"),
    # A call never closed: its name and opening parenthesis, as Terraform underlines them.
    pytest.param("main.tf", "x = max(1, 2\n", Span("main.tf", 1, 5, 1, 9), "", id="call"),
    pytest.param(
        "main.tf",
        "locals {\n  a = <<-EOT\n    ${ upper( }\n  EOT\n}\n",
        Span("main.tf", 3, 15, 3, 16),
        "Invalid expression: ",
        id="heredoc-interpolation",
    ),
    # HCL takes any Unicode letter in a name; python-hcl2's grammar only ASCII ones.
    pytest.param(
        "main.tf",
        "é = 1\n",
        None,
        "Unsupported syntax: templater cannot read this, although Terraform can (",
        id="only-templater-cannot-read",
    ),
    pytest.param("main.tf", "x = " + "(" * 3000, None, "Invalid syntax: ", id="nesting-too-deep"),
    pytest.param(
        "main.tf.json",
        '{"a": }',
        Span("main.tf.json", 1, 7, 1, 8),
        "Invalid JSON: unexpected '}'",
        id="json",
    ),
]


@pytest.mark.parametrize(("path", "text", "span", "start"), PLACED)
def test_the_problem_is_placed_where_terraform_points(
    path: str, text: str, span: Span | None, start: str
) -> None:
    """The span Terraform underlines (None: just its first line) and how the message begins."""
    problem = parse_file(path, text).problem
    assert problem is not None
    assert problem.span == span if span is not None else problem.span.line == 1
    assert problem.message.startswith(start)


def test_an_argument_given_twice_names_both_places() -> None:
    text = 'resource "coder_agent" "main" {\n  os = "linux"\n  os = "linux"\n}\n'
    block = parse_text(text, "main.tf").blocks[0]
    [again] = block.body.duplicates
    assert again.name_span == Span("main.tf", 3, 3, 3, 5)
    assert redefinition_message(block.body, again) == (
        'Attribute redefined: The argument "os" was already set at main.tf:2,3-5. Each argument '
        "may be set only once."
    )


def test_every_argument_given_twice_in_a_file_nested_ones_too() -> None:
    text = (
        'resource "coder_app" "web" {\n  slug = "a"\n  healthcheck {\n    url = "x"\n'
        '    url = "y"\n  }\n  slug = "b"\n}\nlocals {\n  a = 1\n  a = 2\n}\n'
    )
    # As terraform validate reports them (each "Attribute redefined", in the file's order).
    assert redefinitions(parse_text(text, "main.tf")) == [
        (
            Span("main.tf", 5, 5, 5, 8),
            'Attribute redefined: The argument "url" was already set at main.tf:4,5-8. Each '
            "argument may be set only once.",
        ),
        (
            Span("main.tf", 7, 3, 7, 7),
            'Attribute redefined: The argument "slug" was already set at main.tf:2,3-7. Each '
            "argument may be set only once.",
        ),
        (
            Span("main.tf", 11, 3, 11, 4),
            'Attribute redefined: The argument "a" was already set at main.tf:10,3-4. Each '
            "argument may be set only once.",
        ),
    ]


def test_an_argument_given_twice_in_json_says_it_as_terraform_does_for_json() -> None:
    text = '{\n  "variable": {"x": {\n    "default": 1,\n    "default": 2\n  }}\n}\n'
    parsed = parse_file("main.tf.json", text)
    assert parsed.body is not None
    assert redefinitions(parsed.body) == [
        (
            Span("main.tf.json", 4, 5, 4, 14),
            'Duplicate argument: The argument "default" was already set at main.tf.json:3,5-17.',
        )
    ]


def test_a_nested_argument_given_twice_before_a_syntax_error_is_reported_first() -> None:
    # Terraform reports mistakes in the order it reads them.
    text = 'resource "a" "b" {\n  x {\n    y = 1\n    y = 2\n  }\n}\nz = [\n'
    parsed = parse_file("main.tf", text)
    assert parsed.problem is not None
    assert parsed.problem.span == Span("main.tf", 4, 5, 4, 6)
    assert parsed.problem.message == (
        'Attribute redefined: The argument "y" was already set at main.tf:3,5-6. Each argument '
        "may be set only once."
    )


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("resource coder_app x {\n}\n", id="unquoted-labels"),
        pytest.param("foo { a = 1 }\nbar {}\nbaz {\n}\n", id="one-line-and-empty-blocks"),
        pytest.param("locals {\n  a = <<EOT\nx\nEOT\n  b = 1\n}\n", id="heredoc-then-argument"),
        pytest.param(
            "locals {\n  a = x || y\n  b = {\n    c = x == 1\n    d = 2\n  }\n}\n",
            id="operator-expression-at-line-end",
        ),
        pytest.param(
            "a = 1 # c\nb = 2 // d\nc = 3 /* e */\nd {\n  # only a comment\n}\n",
            id="comments",
        ),
        pytest.param('a = { b = 1, c = 2 }\nd = {\n  e = 1\n  f = "\\u00e9\\n"\n}\n', id="objects"),
        pytest.param('a = "%{ if x }y%{ else }z%{ endif }"\n', id="directives"),
    ],
)
def test_what_terraform_accepts_still_parses(text: str) -> None:
    parsed = parse_file("main.tf", text)
    assert parsed.problem is None and parsed.body is not None


def test_unquoted_block_labels_are_labels() -> None:
    block = parse_text("resource coder_app x {\n}\n", "main.tf").blocks[0]
    assert block.labels == ["coder_app", "x"]


def test_namespaced_function_calls_parse_in_blocks() -> None:
    body = parse_text('locals {\n  a = core::upper("a")\n  b = provider::p::f(1)\n}\n', "m.tf")
    names = [attribute.expr for attribute in body.blocks[0].body.attributes.values()]
    assert [call.name for call in names if isinstance(call, FunctionCall)] == [
        "core::upper",
        "provider::p::f",
    ]


@pytest.mark.parametrize(
    ("text", "span", "message"),
    [
        # `terraform console` reads an expression the same way; its words for these.
        (
            "[1 2]",
            Span("vars", 3, 8, 3, 9),
            "Missing item separator: Expected a comma to mark the beginning of the next item.",
        ),
        (
            "1 2",
            Span("vars", 3, 7, 3, 8),
            "Extra characters after expression: An expression was successfully parsed, but extra "
            "characters were found after it.",
        ),
        (
            "[\n  1,\n  2 3]",
            Span("vars", 5, 5, 5, 6),
            "Missing item separator: Expected a comma to mark the beginning of the next item.",
        ),
    ],
)
def test_an_expression_error_is_placed_where_the_expression_starts(
    text: str, span: Span, message: str
) -> None:
    with pytest.raises(ParseError) as raised:
        parse_expression(text, "vars", 3, 5)
    assert (raised.value.span, raised.value.message) == (span, message)


@pytest.mark.parametrize(
    ("text", "span", "message"),
    [
        # As templatefile() reports them (t.tpl:1,1-7 and u.tpl:3,1-1).
        (
            "hello ${name\n",
            Span("t.tpl", 1, 1, 1, 7),
            "Unclosed template interpolation sequence: There is no closing brace for this "
            "interpolation sequence before the end of the file. This might be caused by "
            "incorrect nesting inside the given expression.",
        ),
        (
            "%{ if x }\nyes\n",
            Span("t.tpl", 3, 1, 3, 2),
            "Unexpected end of template: The if directive at t.tpl:1,1-10 is missing its "
            "corresponding endif directive.",
        ),
    ],
)
def test_a_template_file_error_as_templatefile_reports_it(
    text: str, span: Span, message: str
) -> None:
    with pytest.raises(ParseError) as raised:
        parse_template(text, "t.tpl")
    assert (raised.value.span, raised.value.message) == (span, message)


# Names from the grammar that a message must never show: its terminals (as written, or
# lower-cased when they are no English word) and its rules with an underscore in their names.
_DECLARED = re.findall(r"^[!?]?([A-Za-z_]+)(?:\.\d+)?\s*:", grammar_text(), re.M)
_GRAMMAR_NAMES = re.compile(
    r"\b(?:"
    + "|".join(sorted({name for name in _DECLARED if name.isupper() or "_" in name}))
    + r")\b"
    + r"|\b(?:lbrace|rbrace|lsqb|rsqb|lpar|rpar|dblquote|qmark|colons|"
    + "|".join(sorted({name.lower() for name in _DECLARED if "_" in name}))
    + r")\b"
)


def _prefixes(text: str) -> list[str]:
    return [text[:end] for end in range(len(text))]


@pytest.mark.parametrize(
    "text",
    [
        'resource "coder_app" "web" {\n  agent_id = coder_agent.main.id\n  slug     = "web"\n'
        '  url      = "http://localhost:${var.port}/?a=%{ if x }b%{ endif }"\n'
        "  healthcheck {\n    url       = [for p in local.ports : p if p > 0][0]\n"
        "    interval  = max(5, var.interval...)\n  }\n  command = <<-EOT\n    run ${x}\n"
        '  EOT\n  share = { a = 1, "b" = (2 + 3) * 4 }.a > 1 ? "owner" : "public"\n}\n',
    ],
)
def test_every_cut_of_a_file_gives_a_placed_message_without_grammar_names(text: str) -> None:
    lines = text.split("\n")
    for prefix in _prefixes(text):
        parsed = parse_file("main.tf", prefix)
        if parsed.problem is None:
            continue
        problem = parsed.problem
        assert not _GRAMMAR_NAMES.search(problem.message), (prefix, problem.message)
        assert re.match(r"[A-Z][\w' -]+: [A-Z\"]", problem.message), problem.message
        assert 1 <= problem.span.line <= len(lines) and problem.span.column >= 1


def test_reading_again_never_fails_on_broken_input() -> None:
    # The reading that finds Terraform's words runs on whatever failed to parse.
    samples = [case.values[0] for case in CASES]
    for sample in samples:
        for prefix in _prefixes(str(sample))[::3]:
            for mode in ("config", "expression", "template"):
                found = terraform_error(prefix, "main.tf", mode)
                assert found is None or isinstance(found, ParseError)
