"""The JSON Schemas in ``schemas/``: as shipped, and as they hold for one provider release.

A schema describes the newest release of the Coder provider, as editors use it. Its ``x-``
keywords say what older releases had:

- ``x-since`` on a property: the release the argument came with;
- ``x-removed``: arguments that only older releases have, each with ``x-until``, the first
  release without it;
- ``x-changes`` on a property: ``{"since": V, "part": ..., "before": {keyword: value}}``, the
  keywords the property had before release V (``null``: absent), and the part of its rule that
  came with V.

:func:`schema_at` is the schema of one release: the arguments it lacks left out (and out of
``required``), keywords as they were then. :func:`schema_parts` are those facts as rule parts
for the catalogue.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Iterator
from functools import cache
from importlib.resources import files
from typing import Any

from templater.engine.versions import Version
from templater.lint.rules.versioning import Part

Schema = dict[str, Any]

# Older than every release: the representative of the versions before a schema's first fact.
_BEFORE_ALL = Version(0, 0, 0, "0")


@cache
def load_schema(resource_type: str) -> Schema:
    """The JSON Schema for a resource type, as shipped in the package (the newest release)."""
    text = files("templater").joinpath("schemas", f"{resource_type}.schema.json").read_text("utf-8")
    schema: Schema = json.loads(text)
    return schema


def _properties(schema: Schema) -> Iterator[tuple[str, Schema]]:
    """Every argument any release has: the newest ones, then the removed ones."""
    yield from schema.get("properties", {}).items()
    yield from schema.get("x-removed", {}).items()


def _facts(schema: Schema) -> Iterator[Version]:
    for _, prop in _properties(schema):
        for key in ("x-since", "x-until"):
            if key in prop:
                yield Version.parse(prop[key])
        for change in prop.get("x-changes", []):
            yield Version.parse(change["since"])
        if isinstance(prop.get("items"), dict):
            yield from _facts(prop["items"])


@cache
def boundaries(resource_type: str) -> tuple[Version, ...]:
    """The releases at which the schema changes, oldest first."""
    return tuple(sorted(set(_facts(load_schema(resource_type)))))


def epoch(resource_type: str, version: Version) -> int:
    """Which stretch between two boundaries ``version`` falls in: releases of one epoch share a
    schema, so what is built per release is built (and cached) per epoch."""
    return bisect_right(boundaries(resource_type), version)


def schema_at(resource_type: str, version: Version) -> Schema:
    """The schema as it holds for ``version``."""
    return schema_in(resource_type, epoch(resource_type, version))


@cache
def schema_in(resource_type: str, index: int) -> Schema:
    edges = boundaries(resource_type)
    representative = edges[index - 1] if index else _BEFORE_ALL
    return _at(load_schema(resource_type), representative)


def _at(schema: Schema, version: Version) -> Schema:
    result = {key: value for key, value in schema.items() if key != "x-removed"}
    if "properties" not in schema and "x-removed" not in schema:
        return result
    properties = {
        name: _property_at(prop, version)
        for name, prop in _properties(schema)
        if _exists(prop, version)
    }
    result["properties"] = properties
    if "required" in schema:
        result["required"] = [name for name in schema["required"] if name in properties]
    return result


def _exists(prop: Schema, version: Version) -> bool:
    since, until = prop.get("x-since"), prop.get("x-until")
    if since is not None and version < Version.parse(since):
        return False
    return until is None or version < Version.parse(until)


def _property_at(prop: Schema, version: Version) -> Schema:
    result = dict(prop)
    later = [
        change for change in prop.get("x-changes", []) if version < Version.parse(change["since"])
    ]
    # Newest first, so that the oldest change (the state closest to `version`) is applied last.
    for change in sorted(later, key=lambda change: Version.parse(change["since"]), reverse=True):
        for keyword, value in change["before"].items():
            if value is None:
                result.pop(keyword, None)
            else:
                result[keyword] = value
    if isinstance(result.get("items"), dict):
        result["items"] = _at(result["items"], version)
    return result


def argument_releases(resource_type: str, name: str) -> tuple[Version | None, Version | None]:
    """The release an argument came with and the first one without it (None: not known)."""
    for known, prop in _properties(load_schema(resource_type)):
        if known == name:
            since, until = prop.get("x-since"), prop.get("x-until")
            return (
                Version.parse(since) if since else None,
                Version.parse(until) if until else None,
            )
    return None, None


def is_argument_of_some_release(resource_type: str, name: str) -> bool:
    return any(known == name for known, _ in _properties(load_schema(resource_type)))


def schema_parts(resource_type: str) -> list[Part]:
    """The schema's facts as parts of the rules that report them."""
    schema = load_schema(resource_type)
    return list(_parts(schema, schema.get("x-rules", {}), ""))


def _parts(schema: Schema, rules: dict[str, str], prefix: str) -> Iterator[Part]:
    unknown, missing = rules.get("additionalProperties"), rules.get("required")
    for name, prop in _properties(schema):
        label = prefix + name
        since = Version.parse(prop["x-since"]) if "x-since" in prop else None
        until = Version.parse(prop["x-until"]) if "x-until" in prop else None
        if unknown and (since or until):
            yield Part(unknown, label, since, until)
        if missing and since and name in schema.get("required", []):
            yield Part(missing, f"{label} required", since)
        rule, changes = prop.get("x-rule"), prop.get("x-changes", [])
        if rule and since and not changes:
            yield Part(rule, label, since)
        for change in changes:
            if rule:
                yield Part(rule, str(change["part"]), Version.parse(change["since"]))
        if isinstance(prop.get("items"), dict):
            yield from _parts(prop["items"], rules, f"{label}.")
