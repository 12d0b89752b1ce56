"""What an apply writes: the desired state checked, the stored agents and apps read and diffed
against it into the fewest row changes, and those changes written, in the apply's transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from templater.model.changes import APP_REPLACED_BY, classify
from templater.model.levels import SHARE_LEVELS
from templater.model.limits import MemberLimits, new_workspace_breach
from templater.model.records import (
    AGENT_CONNECTING,
    HEALTH_DISABLED,
    HEALTH_INITIALIZING,
    AgentSpec,
    AppSpec,
    DesiredState,
)
from templater.server.store.errors import LimitExceeded, StoreError
from templater.server.store.schema import (
    agents,
    app_columns,
    app_spec,
    app_values,
    apps,
    port_shares,
    users,
    workspaces,
)

_DELETE_CHUNK = 500
MAX_CONNECTION_TIMEOUT = 2**31 - 1
"""The longest connection timeout an agent may have, in seconds (what the column holds)."""


def _chunks(values: Sequence[int], size: int = _DELETE_CHUNK) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _initial_health(spec: AppSpec, now: datetime) -> tuple[str, datetime | None]:
    if spec.healthcheck is None:
        return HEALTH_DISABLED, None
    return HEALTH_INITIALIZING, now


def check_desired(desired: DesiredState) -> None:
    agent_names: set[str] = set()
    for agent in desired.agents:
        if not agent.name:
            raise StoreError("an agent has an empty name")
        if agent.name in agent_names:
            raise StoreError(f"agent {agent.name} appears more than once")
        if not 0 <= agent.connection_timeout <= MAX_CONNECTION_TIMEOUT:
            raise StoreError(
                f"agent {agent.name} has connection_timeout {agent.connection_timeout}; use 0 "
                f"(never time out) to {MAX_CONNECTION_TIMEOUT} seconds"
            )
        agent_names.add(agent.name)
    slugs: set[str] = set()
    for app in desired.apps:
        if not app.slug:
            raise StoreError("an app has an empty slug")
        if app.slug in slugs:
            raise StoreError(f"app {app.slug} appears more than once")
        slugs.add(app.slug)
        if app.agent not in agent_names:
            raise StoreError(
                f"app {app.slug} belongs to agent {app.agent}, which the workspace does not have"
            )
        if app.share not in SHARE_LEVELS:
            raise StoreError(
                f"app {app.slug} has share {app.share!r}; use one of {', '.join(SHARE_LEVELS)}"
            )
        check = app.healthcheck
        if check is not None and (check.interval < 1 or check.threshold < 1):
            raise StoreError(
                f"app {app.slug}: healthcheck interval and threshold must be at least 1"
            )


def check_workspace_count(
    conn: Connection, owner: str, owner_id: int, limits: MemberLimits
) -> None:
    """Refuse a new workspace for ``owner`` beyond ``limits``. The owner's row stays locked
    until the apply ends (PostgreSQL), so that two applies creating workspaces at once are
    counted one after the other."""
    conn.execute(sa.select(users.c.id).where(users.c.id == owner_id).with_for_update())
    owned = conn.scalar(
        sa.select(sa.func.count()).select_from(workspaces).where(workspaces.c.owner_id == owner_id)
    )
    breach = new_workspace_breach(limits, owner, int(owned or 0))
    if breach is not None:
        raise LimitExceeded(breach.message)


@dataclass(slots=True)
class StoredApp:
    """An app as its row holds it: the row's id, the spec and the app's health."""

    id: int
    spec: AppSpec
    health: str
    health_changed_at: datetime | None


@dataclass(slots=True)
class Changes:
    """What an apply does to a workspace's rows, and the addresses it reports."""

    delete_app_ids: list[int] = field(default_factory=list)
    delete_agent_ids: list[int] = field(default_factory=list)
    delete_agent_names: list[str] = field(default_factory=list)  # their shared ports go too
    # Updates in place (connection timeout): an agent kept keeps its token and state.
    agent_updates: list[dict[str, Any]] = field(default_factory=list)
    new_agents: list[AgentSpec] = field(default_factory=list)
    app_updates: list[dict[str, Any]] = field(default_factory=list)  # in place, keyed by b_id
    new_apps: list[tuple[AppSpec, str, datetime | None]] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.created or self.updated or self.replaced or self.deleted)


def read_current(
    conn: Connection, workspace_id: int
) -> tuple[dict[str, tuple[int, AgentSpec]], dict[str, StoredApp]]:
    """A workspace's stored agents (id and spec by name) and apps (by slug), as ``diff``
    takes them."""
    agent_rows = conn.execute(
        sa.select(agents.c.id, agents.c.name, agents.c.connection_timeout).where(
            agents.c.workspace_id == workspace_id
        )
    )
    current_agents = {
        row.name: (row.id, AgentSpec(row.name, row.connection_timeout)) for row in agent_rows
    }
    names = {agent_id: name for name, (agent_id, _) in current_agents.items()}
    app_rows = conn.execute(
        sa.select(
            apps.c.id, apps.c.agent_id, apps.c.health, apps.c.health_changed_at, *app_columns()
        ).where(apps.c.workspace_id == workspace_id)
    )
    current_apps = {
        row.slug: StoredApp(
            row.id,
            app_spec(row, names[row.agent_id]),
            row.health,
            row.health_changed_at,
        )
        for row in app_rows
    }
    return current_agents, current_apps


def diff(
    current_agents: dict[str, tuple[int, AgentSpec]],
    current_apps: dict[str, StoredApp],
    desired: DesiredState,
    now: datetime,
) -> Changes:
    """The fewest row changes that make the stored agents and apps equal ``desired``: unchanged
    rows untouched, changed ones updated in place (an agent keeps its token and state; an app
    keeps its health unless its healthcheck changed), an app moved to another agent replaced
    (health reset)."""
    changes = Changes()
    wanted_agents = {agent.name: agent for agent in desired.agents}
    stored_agents = {name: spec for name, (_, spec) in current_agents.items()}
    # Addresses by action, agents before apps, as the plan lists them.
    done: dict[str, list[str]] = {"create": [], "update": [], "replace": [], "delete": []}
    for action, name in classify(stored_agents, wanted_agents, lambda old, new: False):
        if action == "create":
            changes.new_agents.append(wanted_agents[name])
        elif action == "delete":
            changes.delete_agent_ids.append(current_agents[name][0])
            changes.delete_agent_names.append(name)
        else:
            wanted = wanted_agents[name]
            changes.agent_updates.append(
                {
                    "b_id": current_agents[name][0],
                    "connection_timeout": wanted.connection_timeout,
                }
            )
        done[action].append(f"agent.{name}")

    wanted_apps = {app.slug: app for app in desired.apps}
    stored_specs = {slug: stored.spec for slug, stored in current_apps.items()}

    def moved(old: AppSpec, new: AppSpec) -> bool:
        return any(getattr(old, field) != getattr(new, field) for field in APP_REPLACED_BY)

    for action, slug in classify(stored_specs, wanted_apps, moved):
        spec, stored_app = wanted_apps.get(slug), current_apps.get(slug)
        if action in ("delete", "replace"):
            assert stored_app is not None
            changes.delete_app_ids.append(stored_app.id)
        if action in ("create", "replace"):
            assert spec is not None
            changes.new_apps.append((spec, *_initial_health(spec, now)))
        if action == "update":
            assert spec is not None and stored_app is not None
            if spec.healthcheck == stored_app.spec.healthcheck:
                health, changed_at = stored_app.health, stored_app.health_changed_at
            else:
                health, changed_at = _initial_health(spec, now)
            changes.app_updates.append(
                {"b_id": stored_app.id, **app_values(spec, health, changed_at)}
            )
        done[action].append(f"app.{slug}")

    changes.created = done["create"]
    changes.updated = done["update"]
    changes.replaced = done["replace"]
    changes.deleted = done["delete"]
    return changes


# The steps of an apply that write, in order; module functions so that tests can make one fail.


def delete_rows(conn: Connection, workspace_id: int, changes: Changes) -> None:
    for ids in _chunks(changes.delete_app_ids):
        conn.execute(sa.delete(apps).where(apps.c.id.in_(ids)))
    for ids in _chunks(changes.delete_agent_ids):
        conn.execute(sa.delete(agents).where(agents.c.id.in_(ids)))
    if changes.delete_agent_names:
        conn.execute(
            sa.delete(port_shares).where(
                port_shares.c.workspace_id == workspace_id,
                port_shares.c.agent_name.in_(changes.delete_agent_names),
            )
        )


def write_agents(
    conn: Connection, workspace_id: int, changes: Changes, now: datetime
) -> dict[str, int]:
    """Update and insert agents (a new one ``connecting`` from ``now``, without a token);
    answer every agent's id by name."""
    if changes.agent_updates:
        conn.execute(
            sa.update(agents).where(agents.c.id == sa.bindparam("b_id")),
            changes.agent_updates,
        )
    if changes.new_agents:
        conn.execute(
            sa.insert(agents),
            [
                {
                    "workspace_id": workspace_id,
                    "name": agent.name,
                    "connection_timeout": agent.connection_timeout,
                    "state": AGENT_CONNECTING,
                    "state_changed_at": now,
                    "ports": [],
                }
                for agent in changes.new_agents
            ],
        )
    rows = conn.execute(
        sa.select(agents.c.id, agents.c.name).where(agents.c.workspace_id == workspace_id)
    )
    return {row.name: row.id for row in rows}


def update_apps(conn: Connection, changes: Changes) -> None:
    if changes.app_updates:
        conn.execute(sa.update(apps).where(apps.c.id == sa.bindparam("b_id")), changes.app_updates)


def insert_apps(
    conn: Connection, workspace_id: int, agent_ids: dict[str, int], changes: Changes
) -> None:
    if changes.new_apps:
        conn.execute(
            sa.insert(apps),
            [
                {
                    "workspace_id": workspace_id,
                    "agent_id": agent_ids[spec.agent],
                    **app_values(spec, health, changed_at),
                }
                for spec, health, changed_at in changes.new_apps
            ],
        )
