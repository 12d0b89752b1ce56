"""Values for a root module's variables, from every source Terraform reads, in its precedence."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from templater.engine.diagnostics import Diagnostic, error
from templater.engine.files import Files
from templater.engine.loader import display_path, read_source
from templater.engine.options import InputOptions
from templater.engine.parser import parse_variables_file
from templater.engine.syntax import Expr, Span


@dataclass(frozen=True, slots=True)
class RawInput:
    """A value given as text (``--var``, ``TF_VAR_*``): a string, or HCL for complex types."""

    text: str
    source: str


@dataclass(frozen=True, slots=True)
class ExprInput:
    """A value written in a variables file, with its position."""

    expr: Expr


Input = RawInput | ExprInput


def collect_inputs(
    directory: Path, options: InputOptions, files: Files
) -> tuple[dict[str, Input], list[Diagnostic]]:
    """Every variable value for the root module in ``directory``; later sources win, as in
    Terraform: environment, terraform.tfvars(.json), *.auto.tfvars(.json), then the command
    line's --var-file and --var in the order given."""
    inputs: dict[str, Input] = {}
    diagnostics: list[Diagnostic] = []
    prefix = "TF_VAR_"
    for key, value in options.environment.items():
        if key.startswith(prefix) and len(key) > len(prefix):
            inputs[key[len(prefix) :]] = RawInput(value, f"environment variable {key}")
    automatic = [directory / "terraform.tfvars", directory / "terraform.tfvars.json"] + [
        directory / name
        for name in files.list_dir(directory)
        if name.endswith((".auto.tfvars", ".auto.tfvars.json"))
    ]
    for path in automatic:
        if files.is_file(path):
            _read_var_file(path, files, inputs, diagnostics)
    for path in options.var_files:
        _read_var_file(path, files, inputs, diagnostics)
    for name, value in options.variables:
        inputs[name] = RawInput(value, f"--var {name}")
    return inputs, diagnostics


def _read_var_file(
    path: Path, files: Files, inputs: dict[str, Input], diagnostics: list[Diagnostic]
) -> None:
    shown = display_path(path)
    try:
        text = read_source(path, files)
    except OSError as problem:
        diagnostics.append(
            error(
                "syntax", f"cannot read variables file: {problem.strerror}", Span(shown, 1, 1, 1, 1)
            )
        )
        return
    parsed = parse_variables_file(shown, text)
    if parsed.problem is not None:
        diagnostics.append(error("syntax", parsed.problem.message, parsed.problem.span))
        return
    assert parsed.body is not None
    for name, attribute in parsed.body.attributes.items():
        inputs[name] = ExprInput(attribute.expr)
    for block in parsed.body.blocks:
        diagnostics.append(
            error("syntax", "a variables file holds only NAME = VALUE assignments", block.span)
        )
