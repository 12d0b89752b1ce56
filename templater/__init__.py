"""templater: lint, inspect and provision Coder-style workspace app templates.

The public API is re-exported here and imported on first use, so that ``templater --help`` and
commands that need little stay quick to start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from templater.engine.diagnostics import Diagnostic, Severity
    from templater.engine.evaluate import (
        Evaluation,
        ResolvedAttribute,
        ResolvedBlock,
        ResolvedResource,
        evaluate_template,
    )
    from templater.engine.options import EvalOptions, InputOptions, LintOptions
    from templater.engine.parser import ParseError, parse_expression, parse_file, parse_template
    from templater.engine.syntax import ParsedFile, Span, SyntaxProblem
    from templater.engine.values import EvalError, Unknown, Value
    from templater.lint.report import LintReport, ModuleLint
    from templater.lint.runner import lint_directories, lint_module

_EXPORTS = {
    "Diagnostic": "templater.engine.diagnostics",
    "Severity": "templater.engine.diagnostics",
    "EvalOptions": "templater.engine.options",
    "Evaluation": "templater.engine.evaluate",
    "ResolvedAttribute": "templater.engine.evaluate",
    "ResolvedBlock": "templater.engine.evaluate",
    "ResolvedResource": "templater.engine.evaluate",
    "evaluate_template": "templater.engine.evaluate",
    "InputOptions": "templater.engine.options",
    "LintOptions": "templater.engine.options",
    "ParseError": "templater.engine.parser",
    "parse_expression": "templater.engine.parser",
    "parse_file": "templater.engine.parser",
    "parse_template": "templater.engine.parser",
    "ParsedFile": "templater.engine.syntax",
    "Span": "templater.engine.syntax",
    "SyntaxProblem": "templater.engine.syntax",
    "EvalError": "templater.engine.values",
    "Unknown": "templater.engine.values",
    "Value": "templater.engine.values",
    "LintReport": "templater.lint.report",
    "ModuleLint": "templater.lint.report",
    "lint_directories": "templater.lint.runner",
    "lint_module": "templater.lint.runner",
}

__all__ = [
    "Diagnostic",
    "EvalError",
    "EvalOptions",
    "Evaluation",
    "InputOptions",
    "LintOptions",
    "LintReport",
    "ModuleLint",
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
    "lint_directories",
    "lint_module",
    "parse_expression",
    "parse_file",
    "parse_template",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'templater' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
