"""Plan: the agents and apps a template asks for, and what applying it would change.

Pure: from an evaluated template and the registry's current state of a workspace to a list of
changes, and that list as Terraform-style text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from templater.engine.evaluate import Evaluation, ResolvedAttribute, ResolvedResource
from templater.engine.syntax import Span
from templater.engine.values import Unknown, is_wholly_known, render
from templater.lint.rules.schema import typed_value
from templater.model.changes import APP_REPLACED_BY, classify
from templater.model.records import (
    DEFAULT_CONNECTION_TIMEOUT,
    AgentSpec,
    AppSpec,
    DesiredState,
    Healthcheck,
    WorkspaceState,
)

# Filled in by the control plane, which knows the deployment's access URLs.
_COMPUTED = frozenset({"subdomain_label", "access_url"})
_COMPARED = tuple(f.name for f in fields(AppSpec) if f.name not in _COMPUTED)
_AGENT_ID = re.compile(r"(?:^|\.)coder_agent\.([^.\[]+)(?:\[[^\]]*\])?\.id$")


class PlanError(Exception):
    """Why a template cannot be provisioned as it is, and where."""

    def __init__(self, message: str, span: Span | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.span = span

    def __str__(self) -> str:
        if self.span is None:
            return self.message
        return f"{self.span.file}:{self.span.line}:{self.span.column}: {self.message}"


@dataclass(frozen=True, slots=True)
class Change:
    action: str  # "create", "update", "replace" or "delete"
    kind: str  # "agent" or "app"
    name: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None = None

    @property
    def address(self) -> str:
        return f"{self.kind}.{self.name}"


# ----------------------------------------------------------------------------- desired state


def desired_state(
    evaluation: Evaluation,
    source: dict[str, str],
    variables: dict[str, str],
) -> DesiredState:
    """The agents and apps the evaluated template provisions; raises :class:`PlanError` for
    what is not known before apply (a count, an app's url, …), which cannot be provisioned."""
    agents = [
        AgentSpec(resource.name, _connection_timeout(resource))
        for resource in _existing(evaluation, "coder_agent")
    ]
    names = {agent.name for agent in agents}
    apps = [_app(resource, names) for resource in _existing(evaluation, "coder_app")]
    return DesiredState(source, variables, tuple(agents), tuple(apps))


def _existing(evaluation: Evaluation, resource_type: str) -> list[ResolvedResource]:
    found = []
    for resource in evaluation.resources:
        if resource.mode != "managed" or resource.type != resource_type:
            continue
        if resource.presence == "unknown":
            raise PlanError(
                f"how many {resource.block_address} there are is not known before apply"
                + _needed(resource.count_unset, "its count or for_each uses"),
                resource.span,
            )
        if resource.presence == "certain":
            found.append(resource)
    return found


def _connection_timeout(resource: ResolvedResource) -> int:
    """The agent's ``connection_timeout`` in seconds: the default when it is not set or not
    known before apply (as Coder, which then takes the provider's default); 0 never times
    out."""
    attribute = resource.attributes.get("connection_timeout")
    if attribute is None or not is_wholly_known(attribute.value):
        return DEFAULT_CONNECTION_TIMEOUT
    value = typed_value(resource.type, attribute.name, attribute.value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if value is None:
        return DEFAULT_CONNECTION_TIMEOUT
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PlanError(
            f"{resource.address}: connection_timeout is {render(value)}; it must be a whole "
            "number of seconds, 0 or more (0: never time out)",
            attribute.origin,
        )
    return value


def _known(resource: ResolvedResource, attribute: ResolvedAttribute, label: str) -> Any:
    if not is_wholly_known(attribute.value):
        raise PlanError(
            f"{resource.address}: {label} is not known before apply"
            + _needed(attribute.unset_variables, "it uses"),
            attribute.span,
        )
    return typed_value(resource.type, attribute.name, attribute.value)


def _needed(unset: frozenset[str], uses: str) -> str:
    """What to give plan so that a value is known: the variables without a value behind it."""
    if not unset:
        return f": what {uses} exists only once applied (a resource's id, say)"
    names = sorted(unset)
    listed = ", ".join(f'"{name}"' for name in names)
    flags = " ".join(f"--var {name}=VALUE" for name in names)
    if len(names) == 1:
        return f"; it needs variable {listed}, which has no value: {flags}"
    return f"; it needs variables {listed}, which have no value: {flags}"


def _app(resource: ResolvedResource, agents: set[str]) -> AppSpec:
    values: dict[str, Any] = {}
    for name, attribute in resource.attributes.items():
        if name != "agent_id":
            values[name] = _known(resource, attribute, name)
    agent = _agent_of(resource, agents)
    checks = resource.body.blocks_of("healthcheck")
    healthcheck = None
    if checks:
        check = {
            name: _known(resource, attribute, f"healthcheck.{name}")
            for name, attribute in checks[0].attributes.items()
        }
        healthcheck = Healthcheck(
            str(check["url"]), int(check["interval"]), int(check["threshold"])
        )
    return AppSpec(
        # Before provider 0.6.0 an app had no slug and `name` was its display name; Coder
        # takes the resource name as the slug then.
        slug=str(values.get("slug") or resource.name),
        agent=agent,
        url=values.get("url"),
        command=values.get("command"),
        display_name=values.get("display_name") or values.get("name"),
        icon=values.get("icon"),
        external=bool(values.get("external") or False),
        subdomain=bool(values.get("subdomain") or False),
        share=str(values.get("share") or "owner"),
        order=values.get("order"),
        hidden=bool(values.get("hidden") or False),
        open_in=values.get("open_in"),
        group=values.get("group"),
        tooltip=values.get("tooltip"),
        healthcheck=healthcheck,
        subdomain_label=None,
        access_url=None,
    )


def _agent_of(resource: ResolvedResource, agents: set[str]) -> str:
    attribute = resource.attributes["agent_id"]
    value = attribute.value
    match = _AGENT_ID.search(value.origin or "") if isinstance(value, Unknown) else None
    if match is None or match.group(1) not in agents:
        raise PlanError(
            f"{resource.address}: cannot tell which agent agent_id = {render(value)} is; "
            "use coder_agent.NAME.id",
            attribute.origin,
        )
    return match.group(1)


# ----------------------------------------------------------------------------- changes


def _agent_fields(agent: AgentSpec) -> dict[str, Any]:
    return {"connection_timeout": agent.connection_timeout}


def _app_fields(app: Any) -> dict[str, Any]:
    return {name: getattr(app, name) for name in _COMPARED}


def diff(current: WorkspaceState | None, desired: DesiredState) -> list[Change]:
    """What applying ``desired`` changes: agents first, then apps, each in name order."""
    changes: list[Change] = []
    before_agents = (
        {agent.name: _agent_fields(agent) for agent in current.agents} if current else {}
    )
    after_agents = {agent.name: _agent_fields(agent) for agent in desired.agents}
    changes += _compare("agent", before_agents, after_agents, replace_on=())
    before_apps = {app.slug: _app_fields(app) for app in current.apps} if current else {}
    after_apps = {app.slug: _app_fields(app) for app in desired.apps}
    changes += _compare("app", before_apps, after_apps, replace_on=APP_REPLACED_BY)
    return changes


def _compare(
    kind: str,
    before: dict[str, dict[str, Any]],
    after: dict[str, dict[str, Any]],
    replace_on: tuple[str, ...],
) -> list[Change]:
    def forcing(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
        return [field for field in replace_on if old[field] != new[field]]

    changes = []
    for action, name in classify(before, after, lambda old, new: bool(forcing(old, new))):
        old, new = before.get(name), after.get(name)
        reason = None
        if action == "replace" and old is not None and new is not None:
            reason = f"{', '.join(forcing(old, new))} changes: forces replacement"
        changes.append(Change(action, kind, name, old, new, reason))
    return changes


# ----------------------------------------------------------------------------- text

_SYMBOLS = {"create": "+", "update": "~", "replace": "-/+", "delete": "-"}


def _shown(value: Any) -> str:
    if isinstance(value, Healthcheck):
        return f"{{url = {render(value.url)}, interval = {value.interval}, threshold = {value.threshold}}}"
    return render(value)


def render_changes(changes: list[Change]) -> list[str]:
    """Each change as Terraform shows it: its symbol and address, then the attributes it sets
    (create), changes (update, replace: old -> new) or removes (delete)."""
    lines: list[str] = []
    for change in changes:
        note = f"  # {change.reason}" if change.reason else ""
        lines.append(f"  {_SYMBOLS[change.action]} {change.address}{note}")
        shown = {
            name: value
            for name, value in (change.after or change.before or {}).items()
            if value is not None and value is not False
        }
        if change.action in ("update", "replace") and change.before and change.after:
            names = [n for n in change.after if change.before.get(n) != change.after.get(n)]
            width = max(len(name) for name in names)
            lines += [
                f"      {name.ljust(width)} = {_shown(change.before.get(name))} -> {_shown(change.after[name])}"
                for name in names
            ]
        elif change.action == "create":
            width = max((len(name) for name in shown), default=0)
            lines += [
                f"      {name.ljust(width)} = {_shown(value)}" for name, value in shown.items()
            ]
        lines.append("")
    return lines


def summary(changes: list[Change]) -> str:
    counts = {action: sum(1 for c in changes if c.action == action) for action in _SYMBOLS}
    return (
        f"Plan: {counts['create']} to add, {counts['update']} to change, "
        f"{counts['replace']} to replace, {counts['delete']} to destroy."
    )
