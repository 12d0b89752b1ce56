"""Evaluate a template directory into resolved resources, as Terraform would plan it.

Each module instance is a :class:`Scope` whose root names (``var``, ``local``, ``module``,
``data``, resource types) resolve lazily, so locals and resources come out in dependency order
and a cycle is caught where it closes. Every error becomes a diagnostic once; the value that
failed becomes unknown so that evaluation goes on and no rule reports on it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from templater.engine.addresses import key_suffix
from templater.engine.diagnostics import Diagnostic, Severity, error
from templater.engine.expressions import (
    Namespace,
    ResourceObject,
    Scope,
    Trace,
    evaluate,
    iterate,
    to_number,
    value_origin,
)
from templater.engine.files import Files
from templater.engine.functions import FunctionContext
from templater.engine.inputs import ExprInput, collect_inputs
from templater.engine.loader import (
    Module,
    ModuleCallDecl,
    ParseFile,
    ResourceDecl,
    VariableDecl,
    display_path,
    load_module,
)
from templater.engine.options import EvalOptions
from templater.engine.parser import ParseError, parse_expression, parse_file, parse_template
from templater.engine.resolved import Evaluation, ResolvedAttribute, ResolvedBlock, ResolvedResource
from templater.engine.suggestions import did_you_mean
from templater.engine.syntax import Attribute, Block, Body, Expr, Span, Variable
from templater.engine.typeexpr import type_constraint
from templater.engine.types import ANY, TypeSpec, convert
from templater.engine.values import (
    EvalError,
    Unknown,
    Value,
    is_wholly_known,
    render,
    to_template_string,
)

__all__ = [
    "EvalOptions",
    "Evaluation",
    "ResolvedAttribute",
    "ResolvedBlock",
    "ResolvedResource",
    "evaluate_template",
]

_META_ATTRIBUTES = frozenset({"count", "for_each", "depends_on", "provider"})
_META_BLOCKS = frozenset({"lifecycle", "provisioner", "connection"})
_MAX_MODULE_DEPTH = 16


def evaluate_template(
    directory: Path,
    options: EvalOptions | None = None,
    parse: ParseFile = parse_file,
    files: Files | None = None,
) -> Evaluation:
    """Load the module in ``directory`` with every module it calls, and evaluate it all;
    ``files`` is how it reads the file system."""
    run = _Run(directory, options or EvalOptions(), parse, files or Files())
    module = run.load(directory)
    root = _ModuleInstance(run, module, None, (), True, None)
    root.evaluate_all()
    return Evaluation(directory, list(run.modules.values()), run.resources, run.diagnostics)


# ----------------------------------------------------------------------------- the run


class _Run:
    """State shared by every module instance of one evaluation."""

    def __init__(
        self, directory: Path, options: EvalOptions, parse: ParseFile, files: Files
    ) -> None:
        self.root_directory = directory
        self.options = options
        self.parse = parse
        self.files = files
        self.modules: dict[Path, Module] = {}
        self.resources: list[ResolvedResource] = []
        self.diagnostics: list[Diagnostic] = []
        self._seen: set[tuple[str, str, Span, str | None]] = set()
        self._installed: dict[str, Path] | None = None
        self._unset_reads: list[set[str]] = []

    @contextmanager
    def noting_unset(self) -> Iterator[set[str]]:
        """Collect the root variables without a value that what runs inside reads, so that plan
        can name them; they count for whatever encloses this too."""
        found: set[str] = set()
        self._unset_reads.append(found)
        try:
            yield found
        finally:
            self._unset_reads.pop()
            self.note_unset(found)

    def note_unset(self, names: AbstractSet[str]) -> None:
        if names and self._unset_reads:
            self._unset_reads[-1].update(names)

    def report(self, diagnostic: Diagnostic) -> None:
        # An expression evaluated again (a template file, a module called twice) fails again.
        key = (diagnostic.rule, diagnostic.message, diagnostic.span, diagnostic.resource)
        if key not in self._seen:
            self._seen.add(key)
            self.diagnostics.append(diagnostic)

    def report_error(self, problem: EvalError, fallback: Span, resource: str | None = None) -> None:
        span = problem.span if isinstance(problem.span, Span) else fallback
        severity = Severity.INFO if problem.rule == _FILE_NOT_INSPECTED else Severity.ERROR
        self.report(Diagnostic(problem.rule, severity, problem.message, span, resource))

    def load(self, directory: Path) -> Module:
        key = Path(os.path.normpath(directory))
        module = self.modules.get(key)
        if module is None:
            module = load_module(key, self.parse, self.files)
            self.modules[key] = module
            for diagnostic in module.diagnostics:
                self.report(diagnostic)
        return module

    def installed_module(self, key: str) -> Path | None:
        """A module ``terraform init`` laid out, by its key (``outer.inner``)."""
        if self._installed is None:
            self._installed = {}
            manifest = self.root_directory / ".terraform" / "modules" / "modules.json"
            try:
                entries = json.loads(self.files.read_bytes(manifest)).get("Modules", [])
            except (OSError, ValueError, AttributeError):
                entries = []
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, dict) and isinstance(entry.get("Key"), str) and entry["Key"]:
                    self._installed[entry["Key"]] = self.root_directory / str(entry.get("Dir", ""))
        return self._installed.get(key)

    def render_template(self, text: str, variables: dict[str, Value], filename: str) -> Value:
        expr = _parsed_template(text, filename)
        return evaluate(expr, Scope(None, variables, self.function_context(Path(filename).parent)))

    def function_context(self, directory: Path) -> FunctionContext:
        return FunctionContext(
            base_dir=directory,
            render_template=self.render_template,
            read_text=lambda path: self.read_present(path).decode("utf-8"),
            read_bytes=self.read_present,
            files=self.files,
        )

    def read_present(self, path: Path) -> bytes:
        """A file the template reads. One that is not there (scripts left out of a copy of the
        template, say) makes what is read from it unknown, reported as info, like a module
        whose source is not available: the template may still be right where it is applied."""
        try:
            return self.files.read_bytes(path)
        except FileNotFoundError:
            raise EvalError(
                f"{display_path(path)} is not available locally; what the template reads from "
                "it is unknown",
                _FILE_NOT_INSPECTED,
            ) from None


_FILE_NOT_INSPECTED = "file-not-inspected"
_VARIABLE_UNSET = "variable-unset"


@lru_cache(maxsize=256)
def _parsed_template(text: str, filename: str) -> Expr:
    try:
        return parse_template(text, filename)
    except ParseError as problem:
        span = problem.span
        raise EvalError(f"{span.file}:{span.line}:{span.column}: {problem.message}") from None


# ----------------------------------------------------------------------------- instances


@dataclass(slots=True)
class _Instance:
    """One instance of a counted block: its key and the scope its body is evaluated in. A
    template instance (``real`` false) stands for a block whose instances are unknown or none,
    so that the block is still checked once."""

    key: int | str | None
    scope: Scope
    expanded: bool
    real: bool = True
    # The template of a block known to have no instances: what fails only because of the values
    # that made it empty (a null object behind `count = var.x != null ? 1 : 0`) is no error.
    quiet: bool = False


@dataclass(slots=True)
class _Instances:
    items: list[_Instance]
    known: bool
    # The unset variables that leave count or for_each unknown.
    unset: frozenset[str] = frozenset()


_Variables = dict[str, tuple[Value, Trace | None]]


@dataclass(slots=True)
class _ResolvedInstances:
    items: list[tuple[_Instance, ResolvedBlock]]
    known: bool
    unset: frozenset[str] = frozenset()


@dataclass(slots=True)
class _ChildInstances:
    items: list[tuple[_Instance, _ModuleInstance | None]]
    known: bool


class _ModuleInstance(Scope):
    """The scope of one instance of a module, resolving its names lazily."""

    __slots__ = (
        "_caller",
        "_calls",
        "_given",
        "_inputs",
        "_locals",
        "_outputs",
        "_resolving",
        "_resources",
        "_unset_behind",
        "address",
        "call_path",
        "constants",
        "expanded",
        "module",
        "quiet",
        "run",
        "variables",
    )

    def __init__(
        self,
        run: _Run,
        module: Module,
        caller: tuple[ModuleCallDecl, _Instance, _ModuleInstance] | None,
        call_path: tuple[str, ...],
        expanded: bool,
        address: str | None,
        quiet: bool = False,
    ) -> None:
        functions = run.function_context(module.directory)
        super().__init__(None, {}, functions)
        self.quiet = quiet
        self.run = run
        self.module = module
        self.call_path = call_path
        self.expanded = expanded
        self.address = address or ""
        self.constants = Scope(None, {}, functions)
        self.symbols = {
            "path": {
                "module": os.path.abspath(module.directory),
                "root": os.path.abspath(run.root_directory),
                "cwd": str(Path.cwd()),
            },
            "terraform": {"workspace": "default"},
        }
        self._locals: dict[str, Value] = {}
        self._resolving: list[str] = []
        self._unset_behind: dict[str, frozenset[str]] = {}
        self._resources: dict[tuple[str, str, str], _ResolvedInstances | None] = {}
        self._calls: dict[str, _ChildInstances] = {}
        self._outputs: dict[str, Value] = {}
        self._caller = caller
        # Each input, like each output, is worked out when first used, as Terraform's graph
        # orders them one by one: a module may take a resource's id and give that resource a
        # value from an output that does not depend on it.
        self._given = self._root_inputs() if caller is None else {}
        self._inputs = self._call_inputs(caller[0]) if caller is not None else {}
        self.variables: _Variables = {}

    # names

    def lookup_root(self, name: str) -> Value | Namespace:
        if name == "var":
            return Namespace("var", self._variable)
        if name == "local":
            return Namespace("local", self._local)
        if name == "module":
            return Namespace("module", self._module_output)
        if name == "data":
            return Namespace(
                "data", lambda type: Namespace(f"data.{type}", lambda n: self._data(type, n))
            )
        if name in ("count", "each", "self"):
            where = {"count": "count", "each": "for_each", "self": "a provisioner"}[name]
            raise EvalError(
                f'"{name}" can only be used in a block that has {where}', "reference-undeclared"
            )
        if name in self.module.resource_types:
            return Namespace(name, lambda n: self._resource(name, n))
        return Namespace(name, lambda n: self._resource(name, n), lambda: self._bare_word(name))

    def _bare_word(self, word: str) -> Value:
        # `share = owner`: what the author meant is most likely the text.
        raise EvalError(
            f'Invalid reference: a bare word is a reference, and nothing named "{word}" is '
            f'declared. For the text, write "{word}" in quotes.',
            "reference-undeclared",
        )

    def _where(self) -> str:
        return self.address or "the root module"

    def root_origin(self, kind: str, name: str) -> Trace | None:
        if kind == "var":
            return self._variable_entry(name)[1] if name in self.module.variables else None
        attribute = self.module.locals.get(name)
        return (attribute.expr, self, []) if attribute is not None and kind == "local" else None

    def _variable(self, name: str) -> Value:
        if name not in self.module.variables:
            raise _undeclared(
                "input variable",
                f'An input variable with the name "{name}" has not been declared.'
                + did_you_mean(name, self.module.variables),
            )
        return self._variable_entry(name)[0]

    def _variable_entry(self, name: str) -> tuple[Value, Trace | None]:
        entry = self.variables.get(name)
        if entry is None:
            declaration = self.module.variables[name]
            with self._working_out(f"var.{name}"):
                entry = self._variable_value(declaration, self._given_value(name))
            self.variables[name] = entry
        else:
            self._reused(f"var.{name}")
        return entry

    def _local(self, name: str) -> Value:
        if name in self._locals:
            self._reused(f"local.{name}")
            return self._locals[name]
        attribute = self.module.locals.get(name)
        if attribute is None:
            raise _undeclared(
                "local value",
                f'A local value with the name "{name}" has not been declared.'
                + did_you_mean(name, self.module.locals),
            )
        with self._working_out(f"local.{name}"):
            value = self._evaluated(attribute.expr)
        self._locals[name] = value
        return value

    @contextmanager
    def _working_out(self, marker: str) -> Iterator[None]:
        """Work out ``marker`` (``local.x``), which must not depend on itself; the unset
        variables it reads are kept for whatever uses it later (see :meth:`_reused`)."""
        if marker in self._resolving:
            cycle = " → ".join([*self._resolving[self._resolving.index(marker) :], marker])
            raise EvalError(f"cycle: {cycle}")
        self._resolving.append(marker)
        try:
            with self.run.noting_unset() as found:
                yield
            self._unset_behind[marker] = frozenset(found)
        finally:
            self._resolving.pop()

    def _reused(self, marker: str) -> None:
        """``marker`` is worked out already: what uses it now reads its unset variables too."""
        self.run.note_unset(self._unset_behind.get(marker, frozenset()))

    def _evaluated(self, expr: Expr, scope: Scope | None = None) -> Value:
        """The value of ``expr``, or unknown once its error is reported."""
        try:
            return evaluate(expr, scope or self)
        except EvalError as problem:
            self._report_error(problem, expr.span)
            return Unknown()

    # variables

    def _validate_variables(self) -> None:
        """Work out every variable, used or not, and check it against its validations."""
        for name, declaration in self.module.variables.items():
            entry = self._variable_entry(name)
            if (
                self._caller is None
                and name not in self._given
                and not self.run.options.validate_root_defaults
            ):
                # A module checked on its own keeps defaults its callers are meant to override
                # (`accept_license = false` with a validation that wants true).
                continue
            self._validate(declaration, entry)

    def _given_value(self, name: str) -> tuple[Value, Trace | None] | None:
        if self._caller is None:
            return self._given.get(name)
        expr = self._inputs.get(name)
        if expr is None:
            return None
        scope = self._caller[1].scope
        return self._evaluated(expr, scope), (expr, scope, [])

    def _root_inputs(self) -> dict[str, tuple[Value, Trace | None]]:
        inputs, diagnostics = collect_inputs(
            self.module.directory, self.run.options.inputs, self.run.files
        )
        for diagnostic in diagnostics:
            self.run.report(diagnostic)
        given: dict[str, tuple[Value, Trace | None]] = {}
        for name, entry in inputs.items():
            declaration = self.module.variables.get(name)
            if declaration is None:
                continue  # Terraform ignores values for undeclared variables from these sources
            if isinstance(entry, ExprInput):
                given[name] = self._constant(entry.expr)
                continue
            spec = self._type_of(declaration)
            if spec.kind in ("string", "number", "bool", "any"):
                given[name] = (entry.text, None)
                continue
            try:
                expr = parse_expression(entry.text, entry.source)
            except ParseError as problem:
                self.run.report(error("syntax", f"{entry.source}: {problem.message}", problem.span))
                given[name] = (Unknown(), None)
                continue
            given[name] = self._constant(expr)
        return given

    def _constant(self, expr: Expr) -> tuple[Value, Trace | None]:
        try:
            return evaluate(expr, self.constants), (expr, self.constants, [])
        except EvalError as problem:
            self._report_error(problem, expr.span)
            return Unknown(), None

    def _call_inputs(self, call: ModuleCallDecl) -> dict[str, Expr]:
        """The inputs a module call gives, each still to be evaluated in the caller's scope."""
        given: dict[str, Expr] = {}
        for name, attribute in call.inputs.items():
            if name not in self.module.variables:
                self.run.report(
                    error(
                        "reference-undeclared",
                        f'module "{call.name}" has no variable named "{name}"',
                        attribute.name_span,
                    )
                )
                continue
            given[name] = attribute.expr
        return given

    def _type_of(self, declaration: VariableDecl) -> TypeSpec:
        if declaration.type is None:
            return ANY
        try:
            return type_constraint(
                declaration.type.expr, lambda expr: evaluate(expr, self.constants)
            )
        except EvalError as problem:
            self._report_error(problem, declaration.type.expr.span)
            return ANY

    def _variable_value(
        self, declaration: VariableDecl, given: tuple[Value, Trace | None] | None
    ) -> tuple[Value, Trace | None]:
        caller = self._caller
        name = declaration.name
        if given is not None and given[0] is None and not declaration.nullable:
            given = None  # a non-nullable variable takes its default instead of null
        if given is None:
            if declaration.default is not None:
                given = self._constant(declaration.default.expr)
            elif caller is None:
                self.run.note_unset({name})
                self.run.report(
                    Diagnostic(
                        _VARIABLE_UNSET,
                        Severity.INFO,
                        f'variable "{name}" has no default and no value, so what uses it is '
                        f"unknown; give it one with --var {name}=VALUE or a tfvars file",
                        declaration.block.label_spans[0],
                    )
                )
                return Unknown(f"var.{name}"), None
            else:
                call = caller[0]
                self.run.report(
                    error(
                        "eval-error",
                        f'module "{call.name}" needs a value for its variable "{name}"',
                        call.block.span,
                    )
                )
                return Unknown(f"var.{name}"), None
        value, origin = given
        if caller is None and declaration.type is None and isinstance(value, (bool, int, float)):
            # Coder passes each template variable as `-var name=value` text, and Terraform
            # keeps the text of a variable with no type: `default = 4` arrives as "4".
            value = to_template_string(value)
        try:
            value = convert(value, self._type_of(declaration))
        except EvalError as problem:
            where = origin[0].span if origin else declaration.block.span
            self.run.report(
                error(
                    "eval-error", f'invalid value for variable "{name}": {problem.message}', where
                )
            )
            value = Unknown()
        return value, origin

    def _validate(self, declaration: VariableDecl, entry: tuple[Value, Trace | None]) -> None:
        value, origin = entry
        if not is_wholly_known(value):
            return
        for validation in declaration.validations:
            condition = validation.body.attributes.get("condition")
            if condition is None:
                continue
            try:
                verdict = evaluate(condition.expr, self)
            except EvalError as problem:
                self._report_error(problem, condition.expr.span)
                continue
            if verdict is False:
                where = value_origin(*origin) if origin else condition.expr.span
                self.run.report(
                    error(
                        "variable-validation",
                        f"var.{declaration.name} = {render(value)}: {self._message(validation)}",
                        where,
                    )
                )

    def _message(self, validation: Block) -> str:
        attribute = validation.body.attributes.get("error_message")
        if attribute is None:
            return "the validation condition is false"
        try:
            message = evaluate(attribute.expr, self)
        except EvalError:
            return "the validation condition is false"
        return message if isinstance(message, str) else "the validation condition is false"

    # counted blocks

    def _instances(self, body: Body, address: str) -> _Instances:
        """The instances that count or for_each make of a block."""
        count = body.attributes.get("count")
        for_each = body.attributes.get("for_each")
        if count is None and for_each is None:
            return _Instances([_Instance(None, self, self.expanded)], True)
        with self.run.noting_unset() as unset:
            instances = self._counted_or_each(count, for_each, address)
        if instances:
            return _Instances(instances, True)
        unknown = {"count": {"index": Unknown()}, "each": {"key": Unknown(), "value": Unknown()}}
        known = instances is not None
        template = _Instance(None, self.child(unknown), False, real=False, quiet=known)
        return _Instances([template], known, frozenset(unset))

    def _counted_or_each(
        self, count: Attribute | None, for_each: Attribute | None, address: str
    ) -> list[_Instance] | None:
        instances: list[_Instance] | None
        if count is not None:
            try:
                instances = self._counted(evaluate(count.expr, self))
            except EvalError as problem:
                self._report_error(problem, count.expr.span, address)
                instances = None
        else:
            assert for_each is not None
            try:
                pairs = _for_each_pairs(evaluate(for_each.expr, self))
            except EvalError as problem:
                self._report_error(problem, for_each.expr.span, address)
                pairs = None
            instances = (
                None
                if pairs is None
                else [
                    _Instance(
                        key,
                        self.child(
                            {"each": {"key": key, "value": value}}, (for_each.expr, self, [key])
                        ),
                        self.expanded,
                    )
                    for key, value in pairs
                ]
            )
        return instances

    def _counted(self, number: Value) -> list[_Instance] | None:
        if isinstance(number, Unknown):
            return None
        total = to_number(number, "count")
        if not isinstance(total, int) or total < 0:
            raise EvalError(f"count must be a whole number, 0 or more, got {render(total)}")
        return [
            _Instance(index, self.child({"count": {"index": index}}), self.expanded)
            for index in range(total)
        ]

    # resources and data sources

    def _resource(self, type: str, name: str) -> Value:
        declaration = self.module.resources.get((type, name))
        if declaration is None:
            known = (f"{t}.{n}" for t, n in self.module.resources)
            raise _undeclared(
                "resource",
                f'A managed resource "{type}" "{name}" has not been declared in {self._where()}.'
                + did_you_mean(f"{type}.{name}", known, quoted=False),
            )
        return self._reference_value(declaration)

    def _data(self, type: str, name: str) -> Value:
        declaration = self.module.data.get((type, name))
        if declaration is None:
            known = (f"data.{t}.{n}" for t, n in self.module.data)
            raise _undeclared(
                "resource",
                f'A data resource "{type}" "{name}" has not been declared in {self._where()}.'
                + did_you_mean(f"data.{type}.{name}", known, quoted=False),
            )
        return self._reference_value(declaration)

    def _resolved(self, declaration: ResourceDecl) -> _ResolvedInstances:
        """Every instance of the block with its resolved body."""
        key = (declaration.mode, declaration.type, declaration.name)
        marker = f"{declaration.mode} {declaration.address}"
        if key in self._resources:
            resolved = self._resources[key]
            if resolved is None:
                raise EvalError(f"cycle: {self._qualified(declaration.address)} refers to itself")
            self._reused(marker)
            return resolved
        self._resources[key] = None
        with self.run.noting_unset() as found:
            resolved = self._resolve_instances(declaration)
        self._unset_behind[marker] = frozenset(found)
        self._resources[key] = resolved
        return resolved

    def _resolve_instances(self, declaration: ResourceDecl) -> _ResolvedInstances:
        address = self._qualified(declaration.address)
        instances = self._instances(declaration.block.body, address)
        return _ResolvedInstances(
            [
                (
                    instance,
                    self._resolve_body(
                        declaration.block,
                        instance.scope,
                        address + key_suffix(instance.key),
                        instance.quiet,
                    ),
                )
                for instance in instances.items
            ],
            instances.known,
            instances.unset,
        )

    def _reference_value(self, declaration: ResourceDecl) -> Value:
        resolved = self._resolved(declaration)
        address = self._qualified(declaration.address)
        objects = {
            instance.key: self._object(declaration, address + key_suffix(instance.key), body)
            for instance, body in resolved.items
            if instance.real
        }
        return _collected(declaration.block.body, objects, resolved.known, address)

    def _object(self, declaration: ResourceDecl, address: str, body: ResolvedBlock) -> Value:
        if not declaration.type.startswith("coder_"):
            return Unknown(address)  # another provider's resource: computed at apply
        attributes = body.to_value()
        if declaration.mode == "data":
            attributes.update(self._data_attributes(declaration, attributes))
        return ResourceObject(address, attributes)

    def _data_attributes(
        self, declaration: ResourceDecl, configured: dict[str, Value]
    ) -> dict[str, Value]:
        options = self.run.options
        if declaration.type == "coder_workspace":
            return {
                "name": options.workspace
                if options.workspace
                else Unknown(f"{declaration.address}.name"),
                "start_count": 1,
                "transition": "start",
                "access_url": options.access_url or Unknown(f"{declaration.address}.access_url"),
            }
        if declaration.type == "coder_workspace_owner":
            return {
                "name": options.owner if options.owner else Unknown(f"{declaration.address}.name")
            }
        if declaration.type == "coder_parameter":
            parameter = configured.get("name", declaration.name)
            if isinstance(parameter, str) and parameter in options.parameters:
                return {"value": options.parameters[parameter]}
            if declaration.name in options.parameters:
                return {"value": options.parameters[declaration.name]}
            default = configured.get("default")
            if default is None or isinstance(default, (list, dict)):
                return {"value": Unknown(f"{declaration.address}.value")}
            if isinstance(default, Unknown):
                return {"value": default}
            return {"value": to_template_string(default)}
        return {}

    def _report_error(
        self, problem: EvalError, fallback: Span, resource: str | None = None, quiet: bool = False
    ) -> None:
        if (quiet or self.quiet) and problem.rule == "eval-error":
            return
        self.run.report_error(problem, fallback, resource)

    def _resolve_body(self, block: Block, scope: Scope, address: str, quiet: bool) -> ResolvedBlock:
        attributes: dict[str, ResolvedAttribute] = {}
        for name, attribute in block.body.attributes.items():
            if name in _META_ATTRIBUTES:
                continue
            with self.run.noting_unset() as unset:
                try:
                    value = evaluate(attribute.expr, scope)
                except EvalError as problem:
                    self._report_error(problem, attribute.expr.span, address, quiet)
                    value = Unknown()
            attributes[name] = ResolvedAttribute(attribute, value, scope, frozenset(unset))
        blocks: list[ResolvedBlock] = []
        for nested in block.body.blocks:
            if nested.type in _META_BLOCKS:
                continue
            if nested.type == "dynamic":
                blocks.extend(self._dynamic(nested, scope, address, quiet))
            else:
                blocks.append(self._resolve_body(nested, scope, address, quiet))
        return ResolvedBlock(block.type, list(block.labels), block.span, attributes, blocks)

    def _dynamic(
        self, block: Block, scope: Scope, address: str, quiet: bool
    ) -> list[ResolvedBlock]:
        if len(block.labels) != 1:
            self.run.report(
                error("syntax", "a dynamic block needs one label: the block type", block.span)
            )
            return []
        label = block.labels[0]
        contents = block.body.blocks_of("content")
        if len(contents) != 1:
            self.run.report(
                error("syntax", f'dynamic "{label}" needs one content block', block.span)
            )
            return []
        iterator = label
        iterator_attribute = block.body.attributes.get("iterator")
        if iterator_attribute is not None:
            if not isinstance(iterator_attribute.expr, Variable):
                self.run.report(
                    error("syntax", "iterator must be a bare name", iterator_attribute.expr.span)
                )
                return []
            iterator = iterator_attribute.expr.name
        for_each = block.body.attributes.get("for_each")
        if for_each is None:
            self.run.report(error("syntax", f'dynamic "{label}" needs for_each', block.span))
            return []
        content = contents[0]
        try:
            collection = evaluate(for_each.expr, scope)
            pairs = None if isinstance(collection, Unknown) else list(iterate(collection))
        except EvalError as problem:
            self._report_error(problem, for_each.expr.span, address, quiet)
            pairs = None
        if pairs is None:
            unknown_scope = scope.child({iterator: {"key": Unknown(), "value": Unknown()}})
            template = self._resolve_body(content, unknown_scope, address, quiet)
            return [
                ResolvedBlock(label, [], block.span, template.attributes, template.blocks, True)
            ]
        results = []
        for key, value in pairs:
            inner = scope.child({iterator: {"key": key, "value": value}})
            resolved = self._resolve_body(content, inner, address, quiet)
            results.append(
                ResolvedBlock(label, [], block.span, resolved.attributes, resolved.blocks)
            )
        return results

    # module calls

    def _module_output(self, name: str) -> Value:
        call = self.module.module_calls.get(name)
        if call is None:
            raise _undeclared(
                "module",
                f'No module call named "{name}" is declared in {self._where()}.'
                + did_you_mean(name, self.module.module_calls),
            )
        address = self._qualified(f"module.{name}")
        instances = self._call_instances(call)

        def whole() -> Value:
            outputs = {
                instance.key: child.outputs() if child is not None else Unknown(address)
                for instance, child in instances.items
                if instance.real
            }
            return _collected(call.block.body, outputs, instances.known, address)

        counted = "count" in call.block.body.attributes or "for_each" in call.block.body.attributes
        if counted or len(instances.items) != 1:
            return whole()
        instance, child = instances.items[0]
        if child is None or not instance.real:
            return Unknown(address)
        return Namespace(address, child.output, whole)

    def _call_instances(self, call: ModuleCallDecl) -> _ChildInstances:
        if call.name in self._calls:
            return self._calls[call.name]
        address = self._qualified(f"module.{call.name}")
        # A module whose count or for_each refers to its own outputs sees them unknown.
        self._calls[call.name] = _ChildInstances([], False)
        directory = self._module_directory(call)
        instances = self._instances(call.block.body, address)
        children: list[tuple[_Instance, _ModuleInstance | None]] = []
        for instance in instances.items:
            child = None
            if directory is not None:
                child = _ModuleInstance(
                    self.run,
                    self.run.load(directory),
                    (call, instance, self),
                    (*self.call_path, call.name),
                    instance.expanded,
                    address + key_suffix(instance.key),
                    self.quiet or instance.quiet,
                )
            children.append((instance, child))
        result = _ChildInstances(children, instances.known and directory is not None)
        self._calls[call.name] = result
        return result

    def _module_directory(self, call: ModuleCallDecl) -> Path | None:
        source = call.source or ""
        if len(self.call_path) >= _MAX_MODULE_DEPTH:
            self.run.report(
                error("eval-error", "modules call each other too deeply", call.source_span)
            )
            return None
        if source.startswith(("./", "../")):
            directory = Path(os.path.normpath(self.module.directory / source))
            if not self.run.files.is_dir(directory):
                self.run.report(
                    error(
                        "eval-error",
                        f'module directory "{source}" does not exist',
                        call.source_span,
                    )
                )
                return None
            return directory
        installed = self.run.installed_module(".".join((*self.call_path, call.name)))
        if installed is not None and self.run.files.is_dir(installed):
            return installed
        self.run.report(
            Diagnostic(
                "module-not-inspected",
                Severity.INFO,
                f'module "{call.name}" comes from "{source}", which is not available locally; '
                "run terraform init to have it inspected",
                call.source_span,
            )
        )
        return None

    def output(self, name: str) -> Value:
        if name in self._outputs:
            self._reused(f"output.{name}")
            return self._outputs[name]
        attribute = self.module.outputs.get(name)
        if attribute is None:
            raise EvalError(
                "Unsupported attribute: This object does not have an attribute named "
                f'"{name}".{did_you_mean(name, self.module.outputs)}',
                "reference-undeclared",
            )
        with self._working_out(f"output.{name}"):
            value = self._evaluated(attribute.expr)
        self._outputs[name] = value
        return value

    def outputs(self) -> dict[str, Value]:
        return {name: self.output(name) for name in self.module.outputs}

    # the whole module

    def _qualified(self, address: str) -> str:
        return f"{self.address}.{address}" if self.address else address

    def evaluate_all(self) -> None:
        self._validate_variables()
        for name in self.module.locals:
            self._local(name)
        for declaration in [*self.module.data.values(), *self.module.resources.values()]:
            address = self._qualified(declaration.address)
            resolved = self._resolved(declaration)
            for instance, body in resolved.items:
                self.run.resources.append(
                    ResolvedResource(
                        address + key_suffix(instance.key),
                        declaration.mode,
                        declaration.type,
                        declaration.name,
                        instance.key,
                        instance.expanded,
                        self.address,
                        declaration.block.span,
                        declaration.block.label_spans[1],
                        body,
                        _presence(instance, self),
                        resolved.unset,
                    )
                )
        self.outputs()
        for call in self.module.module_calls.values():
            for _, child in self._call_instances(call).items:
                if child is not None:
                    child.evaluate_all()


def _undeclared(what: str, detail: str) -> EvalError:
    return EvalError(f"Reference to undeclared {what}: {detail}", "reference-undeclared")


def _presence(instance: _Instance, module: _ModuleInstance) -> str:
    if instance.quiet or module.quiet:
        return "none"
    return "certain" if instance.expanded else "unknown"


def _collected(
    body: Body, values: dict[int | str | None, Value], known: bool, address: str
) -> Value:
    """A counted block's value: a list by count, a map by for_each key, or the one value."""
    if "count" in body.attributes:
        return list(values.values()) if known else Unknown(address)
    if "for_each" in body.attributes:
        return {str(key): value for key, value in values.items()} if known else Unknown(address)
    return values.get(None, Unknown(address))


def _for_each_pairs(collection: Value) -> list[tuple[str, Value]] | None:
    """for_each's (each.key, each.value) pairs; None when they cannot be known yet."""
    if isinstance(collection, Unknown):
        return None
    if isinstance(collection, dict):
        return [(key, collection[key]) for key in sorted(collection)]
    if isinstance(collection, list):
        if not all(isinstance(item, (str, Unknown)) for item in collection):
            raise EvalError("for_each needs a map, or a set of strings")
        if not is_wholly_known(collection):
            return None
        return [(item, item) for item in sorted(set(collection))]
    if collection is None:
        raise EvalError("for_each must not be null")
    raise EvalError(f"for_each needs a map or a set of strings, got {render(collection)}")
