"""What a template asks of the Coder provider: the version constraints that ``required_providers``
gives ``coder/coder`` in each of its modules, and the version its lock file selects.

Terraform takes every module's constraints together, and the root module's lock file
(``.terraform.lock.hcl``, written by ``terraform init``) for all of them. Both are read from
syntax, as Terraform does (they must be literal strings); the lock file only when it is there.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from templater.engine.diagnostics import Diagnostic, error
from templater.engine.files import Files
from templater.engine.loader import Module, ParseFile, display_path
from templater.engine.syntax import Attribute, Body, Expr, Literal, ObjectExpr, Span

LOCK_FILE = ".terraform.lock.hcl"


@dataclass(frozen=True, slots=True)
class Pin:
    """A version or a version constraint as written, and where."""

    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class Requirements:
    constraints: tuple[Pin, ...] = ()
    """The ``version`` of coder/coder in each module's required_providers, the root's first."""
    locked: Pin | None = None
    """The version the root module's lock file selects."""
    problems: tuple[Diagnostic, ...] = ()
    """Why the lock file could not be read."""


def read_requirements(
    directory: Path, modules: Iterable[Module], parse: ParseFile, files: Files
) -> Requirements:
    """The requirements of the template in ``directory`` whose loaded modules are ``modules``."""
    locked, problems = _locked(directory, parse, files)
    return Requirements(tuple(constraints_of(modules)), locked, problems)


def constraints_of(modules: Iterable[Module]) -> Iterator[Pin]:
    for module in modules:
        for parsed in module.files:
            if parsed.body is None:
                continue
            for terraform in parsed.body.blocks_of("terraform"):
                yield from _required(terraform.body)


def _required(terraform: Body) -> Iterator[Pin]:
    entries: list[Attribute] = [
        attribute
        for block in terraform.blocks_of("required_providers")
        for attribute in block.body.attributes.values()
    ]
    # In .tf.json, required_providers is an attribute holding an object.
    written = terraform.attributes.get("required_providers")
    if written is not None and isinstance(written.expr, ObjectExpr):
        entries += [
            Attribute(key.value, value, key.span, key.span.to(value.span))
            for key, value in written.expr.items
            if isinstance(key, Literal) and isinstance(key.value, str)
        ]
    for entry in entries:
        pin = _coder_version(entry.name, entry.expr)
        if pin is not None:
            yield pin


def _coder_version(local_name: str, expr: Expr) -> Pin | None:
    """The version constraint of a required_providers entry for coder/coder, if it is one."""
    if isinstance(expr, Literal) and isinstance(expr.value, str):
        # The shorthand `coder = "~> 0.5"`: a version constraint for the local name.
        return Pin(expr.value, expr.span) if local_name == "coder" else None
    if not isinstance(expr, ObjectExpr):
        return None
    fields = {
        key.value: value
        for key, value in expr.items
        if isinstance(key, Literal) and isinstance(key.value, str)
    }
    source = _literal(fields.get("source"))
    if source is None and local_name != "coder":
        return None
    if source is not None and not is_coder_provider(source):
        return None
    version = fields.get("version")
    text = _literal(version)
    return Pin(text, version.span) if version is not None and text is not None else None


def _literal(expr: Expr | None) -> str | None:
    return expr.value if isinstance(expr, Literal) and isinstance(expr.value, str) else None


def is_coder_provider(address: str) -> bool:
    """``coder/coder``, ``registry.terraform.io/coder/coder`` or another registry's
    ``HOST/coder/coder`` (case does not matter)."""
    parts = address.strip().lower().split("/")
    return len(parts) in (2, 3) and parts[-2:] == ["coder", "coder"]


def _locked(
    directory: Path, parse: ParseFile, files: Files
) -> tuple[Pin | None, tuple[Diagnostic, ...]]:
    path = directory / LOCK_FILE
    try:
        text = files.read_bytes(path).decode("utf-8", errors="replace")
    except OSError:
        return None, ()
    parsed = parse(display_path(path), text)
    if parsed.problem is not None:
        return None, (error("syntax", parsed.problem.message, parsed.problem.span),)
    if parsed.body is None:
        return None, ()
    for block in parsed.body.blocks_of("provider"):
        if block.labels and is_coder_provider(block.labels[0]):
            version = block.body.attributes.get("version")
            text_value = _literal(version.expr) if version is not None else None
            if version is not None and text_value is not None:
                return Pin(text_value, version.expr.span), ()
    return None, ()
