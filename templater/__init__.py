"""templater: lint, inspect and provision Coder-style workspace app templates.

The public API is re-exported here and imported on first use, so that ``templater --help`` and
commands that need little stay quick to start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from templater.diagnostics import Diagnostic, Severity
    from templater.evaluate import (
        Evaluation,
        ResolvedAttribute,
        ResolvedBlock,
        ResolvedResource,
        evaluate_template,
    )
    from templater.options import EvalOptions, InputOptions, LintOptions
    from templater.parser import ParseError, parse_expression, parse_file, parse_template
    from templater.syntax import ParsedFile, Span, SyntaxProblem
    from templater.values import EvalError, Unknown, Value

_EXPORTS = {
    "Diagnostic": "templater.diagnostics",
    "Severity": "templater.diagnostics",
    "EvalOptions": "templater.options",
    "Evaluation": "templater.evaluate",
    "ResolvedAttribute": "templater.evaluate",
    "ResolvedBlock": "templater.evaluate",
    "ResolvedResource": "templater.evaluate",
    "evaluate_template": "templater.evaluate",
    "InputOptions": "templater.options",
    "LintOptions": "templater.options",
    "ParseError": "templater.parser",
    "parse_expression": "templater.parser",
    "parse_file": "templater.parser",
    "parse_template": "templater.parser",
    "ParsedFile": "templater.syntax",
    "Span": "templater.syntax",
    "SyntaxProblem": "templater.syntax",
    "EvalError": "templater.values",
    "Unknown": "templater.values",
    "Value": "templater.values",
}

__all__ = [
    "Diagnostic",
    "EvalError",
    "EvalOptions",
    "Evaluation",
    "InputOptions",
    "LintOptions",
    "ParseError",
    "ParsedFile",
    "ResolvedAttribute",
    "ResolvedBlock",
    "ResolvedResource",
    "Severity",
    "Span",
    "SyntaxProblem",
    "Unknown",
    "Value",
    "evaluate_template",
    "parse_expression",
    "parse_file",
    "parse_template",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'templater' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
