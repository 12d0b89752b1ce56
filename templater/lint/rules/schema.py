"""Per-argument checks from the JSON Schemas in ``schemas/``, reported at the offending value.

Each resolved ``coder_app`` and ``coder_agent`` becomes a JSON instance (attributes, nested
blocks as lists) and is validated with jsonschema. Values first get Terraform's conversions to
the schema's types (``"true"`` is a bool, ``"5"`` a number), so only what Terraform would refuse
is a type error; a value that is not wholly known is never reported on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from templater.engine.diagnostics import Diagnostic, Severity
from templater.engine.evaluate import ResolvedAttribute, ResolvedBlock, ResolvedResource
from templater.engine.suggestions import closest
from templater.engine.syntax import Span
from templater.engine.types import BOOL, NUMBER, STRING, TypeSpec, convert
from templater.engine.values import EvalError, is_wholly_known, render
from templater.engine.versions import Version
from templater.lint.rules.registry import register, rule
from templater.lint.rules.schemadata import (
    argument_releases,
    epoch,
    is_argument_of_some_release,
    load_schema,
    schema_in,
)

if TYPE_CHECKING:
    from jsonschema import ValidationError

    from templater.lint.rules.registry import LintContext

_CONVERSIONS: dict[str, TypeSpec] = {
    "string": STRING,
    "integer": NUMBER,
    "number": NUMBER,
    "boolean": BOOL,
}
_TYPE_WORDS = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "a bool (true or false)",
    "array": "a list of blocks",
    "object": "a block",
}


@cache
def _validator(resource_type: str, index: int) -> Any:
    """The validator of one epoch of the schema (see schemadata.epoch)."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema_in(resource_type, index))


# ----------------------------------------------------------------------------- instances


def _instance(block: ResolvedBlock, schema: dict[str, Any]) -> dict[str, Any]:
    """A block as the JSON the schema describes; null attributes count as not set."""
    properties = schema.get("properties", {})
    instance: dict[str, Any] = {}
    for name, attribute in block.attributes.items():
        if attribute.value is not None:
            instance[name] = converted(attribute.value, properties.get(name, {}))
    for nested in block.blocks:
        items = properties.get(nested.type, {}).get("items", {})
        instance.setdefault(nested.type, []).append(_instance(nested, items))
    return instance


def converted(value: Any, schema: dict[str, Any]) -> Any:
    """A wholly known value converted to the type the property ``schema`` gives it, as
    Terraform converts it; unchanged when it does not convert."""
    spec = _CONVERSIONS.get(schema.get("type", ""))
    if spec is None or not is_wholly_known(value):
        return value
    try:
        return convert(value, spec)
    except EvalError:
        return value  # the schema's type keyword reports it


def typed_value(resource_type: str, name: str, value: Any) -> Any:
    """An argument's value as Terraform passes it to the provider: converted to the type the
    (newest) schema gives the argument (``"true"`` → true), unchanged when it does not convert."""
    return converted(value, load_schema(resource_type).get("properties", {}).get(name, {}))


def _located(
    block: ResolvedBlock, path: list[str | int]
) -> ResolvedAttribute | ResolvedBlock | list[ResolvedBlock]:
    """What a JSON path into the instance points at in the resolved block."""
    node: ResolvedBlock = block
    index = 0
    while index < len(path):
        key = path[index]
        if isinstance(key, str) and key in node.attributes:
            return node.attributes[key]
        blocks = node.blocks_of(str(key))
        if index + 1 < len(path) and isinstance(path[index + 1], int):
            node = blocks[int(path[index + 1])]
            index += 2
            continue
        return blocks
    return node


# ----------------------------------------------------------------------------- reporting


def _diagnostics(
    context: LintContext,
    resource: ResolvedResource,
    instance: dict[str, Any],
    schema: dict[str, Any],
) -> Iterator[Diagnostic]:
    by_keyword: dict[str, str] = schema.get("x-rules", {})
    validator = _validator(resource.type, epoch(resource.type, context.provider))
    for error in validator.iter_errors(instance):
        problem = _Violation.of(error)
        # A keyword the whole schema maps (type, required, …) wins over the property's own rule:
        # `interval = "5s"` is a type error, not a range error.
        rule_id = by_keyword.get(problem.validator) or problem.schema.get("x-rule")
        if rule_id is None:
            continue
        if problem.validator not in ("required", "additionalProperties") and not is_wholly_known(
            problem.instance
        ):
            continue
        yield from _report(context, resource, problem, rule_id)


@dataclass(frozen=True, slots=True)
class _Violation:
    """A jsonschema error, with the fields this module reads typed."""

    validator: str
    validator_value: Any
    schema: dict[str, Any]
    instance: Any
    path: list[str | int]
    message: str

    @classmethod
    def of(cls, error: ValidationError) -> _Violation:
        schema = error.schema if isinstance(error.schema, dict) else {}
        return cls(
            str(error.validator),
            error.validator_value,
            schema,
            error.instance,
            list(error.absolute_path),
            error.message,
        )


def _report(
    context: LintContext, resource: ResolvedResource, problem: _Violation, rule_id: str
) -> Iterator[Diagnostic]:
    path = problem.path
    target = _located(resource.body, path)
    if problem.validator == "required":
        where = target if isinstance(target, ResolvedBlock) else resource.body
        owner = "healthcheck" if path else resource.type
        for name in problem.validator_value:
            if name not in problem.instance:
                span = where.span if path else resource.span
                yield context.finding(rule_id, f'{owner} needs "{name}"', span, resource)
        return
    if problem.validator == "additionalProperties":
        where = target if isinstance(target, ResolvedBlock) else resource.body
        known = list(problem.schema.get("properties", {}))
        owner = where.type if path else resource.type
        for name in sorted(set(problem.instance) - set(known)):
            message = f'{owner} has no argument "{name}"'
            if not path and is_argument_of_some_release(resource.type, name):
                message += _release_note(resource.type, name, context.provider)
            else:
                hint = closest(name, known)
                message += f'; did you mean "{hint}"?' if hint else ""
            yield context.finding(rule_id, message, _name_span(where, name), resource)
        return
    label = ".".join(str(step) for step in path if isinstance(step, str))
    if problem.validator == "maxItems" and isinstance(target, list):
        # A dynamic block whose for_each is unknown may make no block at all: count only others.
        certain = [block for block in target if not block.repeated]
        if len(certain) > int(problem.validator_value):
            span = certain[int(problem.validator_value)].span
            yield context.finding(rule_id, _message(problem, label), span, resource)
        return
    if isinstance(target, ResolvedAttribute):
        yield context.value_finding(rule_id, _message(problem, label), resource, target, label)
    elif path == ["name"]:
        yield context.finding(rule_id, _message(problem, label), resource.name_span, resource)


def _release_note(resource_type: str, name: str, version: Version) -> str:
    """Why an argument that some release has is unknown to this one."""
    since, until = argument_releases(resource_type, name)
    if since is not None and version < since:
        return f" in Coder provider {version}: it came with {since}"
    return f" in Coder provider {version}: it was removed in {until}"


def _name_span(block: ResolvedBlock, name: str) -> Span:
    if name in block.attributes:
        return block.attributes[name].name_span
    return next(nested.span for nested in block.blocks if nested.type == name)


def _message(problem: _Violation, label: str) -> str:
    value = problem.instance
    template = problem.schema.get("x-message")
    if template:
        message = str(template).replace("{value}", render(value))
        if problem.validator == "enum" and isinstance(value, str):
            hint = closest(
                value, (choice for choice in problem.validator_value if isinstance(choice, str))
            )
            message += f'; did you mean "{hint}"?' if hint else ""
        return message
    if problem.validator == "type":
        wanted = _TYPE_WORDS.get(str(problem.validator_value), str(problem.validator_value))
        return f"{label} must be {wanted}, got {render(value)}"
    if problem.validator == "maxLength":
        return f"{label} is {len(value)} characters long; Coder allows at most {problem.validator_value}"
    return f"{label}: {problem.message}"


# ----------------------------------------------------------------------------- the rules


@rule(
    "app-attribute-type",
    Severity.ERROR,
    "A coder_app argument has a value of the wrong type",
    """
Terraform converts what it can (`"true"` to a bool, `"5"` to a number); what it cannot is an
error at plan: `subdomain = "yes"`, `interval = "5s"`, `order = 1.5`. Checked by the types in
schemas/coder_app.schema.json; this rule also reports the other per-argument violations of that
schema listed below, each under its own ID.
""",
)
def check_schemas(context: LintContext) -> Iterator[Diagnostic]:
    app_schema = context.schema("coder_app")
    implied_slug = "slug" not in app_schema.get("properties", {})
    for resource in context.apps:
        yield from _diagnostics(context, resource, _instance(resource.body, app_schema), app_schema)
        if implied_slug:
            yield from _resource_name_as_slug(context, resource)
    agent_schema = context.schema("coder_agent")
    for resource in context.agents:
        instance = {"name": resource.name, **_instance(resource.body, agent_schema)}
        yield from _diagnostics(context, resource, instance, agent_schema)


def _resource_name_as_slug(
    context: LintContext, resource: ResolvedResource
) -> Iterator[Diagnostic]:
    """A provider without the slug argument leaves the slug to Coder, which takes the resource
    name and holds it to the pattern of slugs (the newest schema's)."""
    slug = load_schema("coder_app")["properties"]["slug"]
    if re.search(slug["pattern"], resource.name) is None:
        message = str(slug["x-message"]).replace("{value}", render(resource.name))
        message += (
            f"; Coder provider {context.provider} has no slug argument, so the resource name is "
            "the slug"
        )
        yield context.finding(slug["x-rule"], message, resource.name_span, resource)


register(
    "app-missing-attribute",
    Severity.ERROR,
    "A coder_app lacks agent_id or slug, or a healthcheck lacks url, interval or threshold",
    """
Every app belongs to an agent (`agent_id = coder_agent.NAME.id`) and needs a slug, which
identifies it in URLs. A healthcheck block needs all three of url, interval and threshold.
Providers older than the one that came with the slug argument (see Since) have none: Coder then
takes the resource name as the slug.
""",
)
register(
    "app-unknown-attribute",
    Severity.ERROR,
    "A coder_app has an argument or block that coder_app does not have",
    """
Usually a typo (`subdomian`, `healtcheck`): Terraform refuses the template. The message
suggests the closest argument that exists. Arguments come and go with provider releases (listed
below): one that the template's release does not have yet, or no longer has, is reported with
the release it came with or went in.
""",
)
register(
    "app-slug-format",
    Severity.ERROR,
    "A slug is not lower-case letters and digits joined by single hyphens",
    """
Slugs are part of app URLs and hostnames (`code-server--ws--user`), which is why Coder allows
only `^[a-z0-9](-?[a-z0-9])*$`: no upper case, no underscores, no leading, trailing or double
hyphens. With a provider that has no slug argument yet, Coder takes the resource name as the
slug, so the resource name is checked (`coder_app.code_server` fails: use `code-server`).
""",
)
register(
    "app-share-value",
    Severity.ERROR,
    "share is not owner, authenticated or public",
    "The provider refuses any other share level; leave share out for the default, owner.",
)
register(
    "app-open-in-value",
    Severity.ERROR,
    "open_in is not slim-window or tab",
    "The dashboard opens an app in a slim window (the default) or a browser tab; nothing else.",
)
register(
    "app-length-limit",
    Severity.ERROR,
    "display_name or group is longer than 64 characters, or tooltip longer than 2048",
    "The provider refuses longer values; the dashboard has no room for them either.",
)
register(
    "app-healthcheck-count",
    Severity.ERROR,
    "A coder_app has more than one healthcheck block",
    "Coder checks one URL per app; the provider allows at most one healthcheck block.",
)
register(
    "app-healthcheck-range",
    Severity.ERROR,
    "A healthcheck's interval or threshold is below 1",
    """
Coder accepts 0 and negative numbers here, but its agent then never checks the app, which
stays "initializing" forever. Use an interval of at least 1 second and a threshold of at least 1.
""",
)
register(
    "app-icon-format",
    Severity.ERROR,
    "icon is not a URL or an absolute path",
    """
Coder serves built-in icons under absolute paths such as `/icon/code.svg` and `/emojis/1f4bb.png`;
anything else must be a URL (`https://…`, `data:…`). Coder also takes a relative reference, which
the dashboard resolves against its own address; one written as such (`./x.svg`, `../x.svg`) is
accepted, but a bare `code.svg` or `icon/code.svg` is most likely missing its leading slash and
shows a broken image.
""",
)
register(
    "agent-name-format",
    Severity.ERROR,
    "A coder_agent's name is not letters and digits joined by single hyphens",
    """
Coder uses the resource name as the agent name, in URLs and hostnames such as
`8080--main--ws--user`; it matches `(?i)^[a-z0-9](-?[a-z0-9])*$` and refuses underscores
(`coder_agent.my_agent` fails at template import: use `my-agent`).
""",
)
