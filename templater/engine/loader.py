"""Load a Terraform module: a directory's ``*.tf`` and ``*.tf.json`` files, sorted into its parts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from templater.engine.diagnostics import Diagnostic, error
from templater.engine.files import MODULE_FILE_SUFFIXES, Files
from templater.engine.syntax import Attribute, Block, Literal, ParsedFile, Span, redefinitions

ParseFile = Callable[[str, str], ParsedFile]
"""Parses (display path, text) into a file; the lint cache supplies its own."""


@dataclass(slots=True)
class VariableDecl:
    name: str
    block: Block
    type: Attribute | None
    default: Attribute | None
    validations: list[Block]
    nullable: bool = True


@dataclass(slots=True)
class ResourceDecl:
    """A ``resource`` or ``data`` block."""

    mode: str  # "managed" or "data"
    type: str
    name: str
    block: Block

    @property
    def address(self) -> str:
        prefix = "data." if self.mode == "data" else ""
        return f"{prefix}{self.type}.{self.name}"


@dataclass(slots=True)
class ModuleCallDecl:
    name: str
    block: Block
    source: str | None
    source_span: Span

    @property
    def inputs(self) -> dict[str, Attribute]:
        meta = {"source", "version", "count", "for_each", "providers", "depends_on"}
        return {
            name: attribute
            for name, attribute in self.block.body.attributes.items()
            if name not in meta
        }


@dataclass(slots=True)
class Module:
    directory: Path
    files: list[ParsedFile] = field(default_factory=list)
    variables: dict[str, VariableDecl] = field(default_factory=dict)
    locals: dict[str, Attribute] = field(default_factory=dict)
    outputs: dict[str, Attribute] = field(default_factory=dict)
    resources: dict[tuple[str, str], ResourceDecl] = field(default_factory=dict)
    data: dict[tuple[str, str], ResourceDecl] = field(default_factory=dict)
    module_calls: dict[str, ModuleCallDecl] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # The types of the managed resources, which references name as their first step.
    resource_types: set[str] = field(default_factory=set)


def module_files(directory: Path, files: Files) -> list[Path]:
    """The files Terraform reads for a module: ``*.tf`` and ``*.tf.json`` directly in it."""
    return [
        directory / name
        for name in files.list_dir(directory)
        if name.endswith(MODULE_FILE_SUFFIXES) and files.is_file(directory / name)
    ]


def display_path(path: Path) -> str:
    """A path as the user would name it: relative to the working directory when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def read_source(path: Path, files: Files) -> str:
    """A source file's text, newlines kept as written (positions count CR as a column)."""
    return files.read_bytes(path).decode("utf-8", errors="replace")


def load_module(directory: Path, parse: ParseFile, files: Files) -> Module:
    """Parse every file of the module in ``directory`` and sort its blocks."""
    module = Module(directory)
    for path in module_files(directory, files):
        shown = display_path(path)
        try:
            text = read_source(path, files)
        except OSError as problem:
            module.diagnostics.append(
                error("syntax", f"cannot read file: {problem.strerror}", Span(shown, 1, 1, 1, 1))
            )
            continue
        parsed = parse(shown, text)
        module.files.append(parsed)
        if parsed.problem is not None:
            module.diagnostics.append(error("syntax", parsed.problem.message, parsed.problem.span))
        elif parsed.body is not None:
            _sort_blocks(module, parsed.body.blocks)
            for attribute in parsed.body.attributes.values():
                # Only .tf.json "locals" puts attributes at the top level.
                _add_local(module, attribute)
            for span, message in redefinitions(parsed.body):
                module.diagnostics.append(error("syntax", message, span))
    return module


def _sort_blocks(module: Module, blocks: list[Block]) -> None:
    for block in blocks:
        kind = block.type
        if kind in ("resource", "data"):
            if len(block.labels) != 2:
                _labels_wrong(module, block, 2)
                continue
            mode = "managed" if kind == "resource" else "data"
            declaration = ResourceDecl(mode, block.labels[0], block.labels[1], block)
            table = module.resources if mode == "managed" else module.data
            key = (declaration.type, declaration.name)
            if key in table:
                _duplicate(module, block, declaration.address)
            else:
                table[key] = declaration
                if mode == "managed":
                    module.resource_types.add(declaration.type)
        elif kind == "variable":
            if len(block.labels) != 1:
                _labels_wrong(module, block, 1)
                continue
            _add_variable(module, block)
        elif kind == "locals":
            for attribute in block.body.attributes.values():
                _add_local(module, attribute)
        elif kind == "output":
            if len(block.labels) != 1:
                _labels_wrong(module, block, 1)
                continue
            value = block.body.attributes.get("value")
            if value is None:
                module.diagnostics.append(
                    error("syntax", f'output "{block.labels[0]}" needs a "value"', block.span)
                )
            elif block.labels[0] in module.outputs:
                _duplicate(module, block, f"output.{block.labels[0]}")
            else:
                module.outputs[block.labels[0]] = value
        elif kind == "module":
            if len(block.labels) != 1:
                _labels_wrong(module, block, 1)
                continue
            _add_module_call(module, block)


def _add_variable(module: Module, block: Block) -> None:
    name = block.labels[0]
    if name in module.variables:
        _duplicate(module, block, f"var.{name}")
        return
    attributes = block.body.attributes
    nullable_attribute = attributes.get("nullable")
    nullable = not (
        nullable_attribute is not None
        and isinstance(nullable_attribute.expr, Literal)
        and nullable_attribute.expr.value is False
    )
    module.variables[name] = VariableDecl(
        name,
        block,
        attributes.get("type"),
        attributes.get("default"),
        block.body.blocks_of("validation"),
        nullable,
    )


def _add_local(module: Module, attribute: Attribute) -> None:
    if attribute.name in module.locals:
        module.diagnostics.append(
            error("syntax", f'local value "{attribute.name}" is defined twice', attribute.name_span)
        )
    else:
        module.locals[attribute.name] = attribute


def _add_module_call(module: Module, block: Block) -> None:
    name = block.labels[0]
    if name in module.module_calls:
        _duplicate(module, block, f"module.{name}")
        return
    source = block.body.attributes.get("source")
    if source is None:
        module.diagnostics.append(error("syntax", f'module "{name}" needs a "source"', block.span))
        return
    literal = source.expr.value if isinstance(source.expr, Literal) else None
    if not isinstance(literal, str):
        module.diagnostics.append(
            error("syntax", "a module source must be a literal string", source.expr.span)
        )
        return
    module.module_calls[name] = ModuleCallDecl(name, block, literal, source.expr.span)


def _labels_wrong(module: Module, block: Block, wanted: int) -> None:
    module.diagnostics.append(
        error(
            "syntax",
            f'a "{block.type}" block needs {wanted} label(s), found {len(block.labels)}',
            block.span,
        )
    )


def _duplicate(module: Module, block: Block, address: str) -> None:
    module.diagnostics.append(error("syntax", f"{address} is declared twice", block.span))
