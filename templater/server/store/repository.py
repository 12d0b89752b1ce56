"""The control plane's registry: users and their API tokens, workspaces, agents and apps, the
ports owners share, the app router's sign-in tickets and the server's own secrets.

One schema for SQLite (the embedded default) and PostgreSQL, written with SQLAlchemy Core and
created or upgraded by numbered migration steps (``migrate``). ``Store`` is a thin typed
repository: the rules that need the database (unique names, the optimistic version check of an
apply, atomic applies) live here; nothing here knows about HTTP.

SQLite: WAL journal, foreign keys on, writers wait for each other (busy timeout) and take the
write lock when their transaction begins (``BEGIN IMMEDIATE``), so a read-then-write transaction
never fails half-way on a lock. PostgreSQL: READ COMMITTED; an apply locks its workspace's row
(``SELECT … FOR UPDATE``) and bumps the version with a conditional ``UPDATE``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError

from templater.model.changes import APP_REPLACED_BY, classify
from templater.model.hostnames import MAX_PORT, MIN_PORT
from templater.model.records import (
    APP_SPEC_FIELDS,
    HEALTH_DISABLED,
    HEALTH_INITIALIZING,
    PORT_SHARE_LEVELS,
    ROLES,
    SHARE_LEVELS,
    AgentSpec,
    ApplyResult,
    AppRecord,
    AppRoute,
    AppSpec,
    DesiredState,
    Healthcheck,
    HealthEvent,
    HealthTarget,
    PortRoute,
    PortShare,
    User,
    WorkspaceState,
)

TOKEN_PREFIX = "tpl_"
"""Every API token starts with this, so that a leaked one is recognisable (secret scanners)."""

NAME_LIMIT = 32
"""The longest user or workspace name (Coder's limit)."""

BUSY_TIMEOUT = 30.0
"""Seconds a SQLite writer waits for another one to finish before it gives up."""

SECRET_BYTES = 32
"""The length of a server secret (``Store.secret``)."""

_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_WRITE = "templater_write"
_DELETE_CHUNK = 500
_MIGRATION_LOCK = 0x7465_6D70  # PostgreSQL advisory lock key held while migrating ("temp")


class StoreError(Exception):
    """A request the registry refuses, with a message a person can act on."""


class VersionConflict(StoreError):
    """The workspace changed (or appeared, or went away) since the caller planned against it."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or stayed locked too long; trying again later may work."""


class NotFound(StoreError):
    """The workspace, agent or other thing a request names does not exist."""


# ----------------------------------------------------------------------------- schema


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp in UTC: timezone-aware in Python on both databases (SQLite keeps naive UTC)."""

    impl = sa.DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", UTCDateTime(), nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint("role IN ('admin', 'member')", name="role"),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "user_id",
        sa.Integer,
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("token_hash", sa.Text, nullable=False, unique=True),  # SHA-256, hex
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

workspaces = sa.Table(
    "workspaces",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "owner_id", sa.Integer, sa.ForeignKey("users.id", ondelete="RESTRICT"), nullable=False
    ),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("source", sa.JSON, nullable=False),
    sa.Column("variables", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("owner_id", "name"),
)

agents = sa.Table(
    "agents",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "workspace_id",
        sa.Integer,
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("address", sa.Text, nullable=False),
    sa.UniqueConstraint("workspace_id", "name"),
)

apps = sa.Table(
    "apps",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "workspace_id",
        sa.Integer,
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column(
        "agent_id",
        sa.Integer,
        sa.ForeignKey("agents.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("slug", sa.Text, nullable=False),
    sa.Column("url", sa.Text),
    sa.Column("command", sa.Text),
    sa.Column("display_name", sa.Text),
    sa.Column("icon", sa.Text),
    sa.Column("external", sa.Boolean, nullable=False),
    sa.Column("subdomain", sa.Boolean, nullable=False),
    sa.Column("share", sa.Text, nullable=False),
    sa.Column("display_order", sa.Integer),  # coder_app.order (ORDER is an SQL keyword)
    sa.Column("hidden", sa.Boolean, nullable=False),
    sa.Column("open_in", sa.Text),
    sa.Column("app_group", sa.Text),  # coder_app.group (GROUP is an SQL keyword)
    sa.Column("tooltip", sa.Text),
    sa.Column("healthcheck_url", sa.Text),  # the healthcheck: all three set, or none
    sa.Column("healthcheck_interval", sa.Integer),
    sa.Column("healthcheck_threshold", sa.Integer),
    sa.Column("subdomain_label", sa.Text),
    sa.Column("access_url", sa.Text),
    sa.Column("health", sa.Text, nullable=False),
    sa.Column("health_changed_at", UTCDateTime()),
    sa.UniqueConstraint("workspace_id", "slug"),
)

health_transitions = sa.Table(
    "health_transitions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("app_id", sa.Integer, sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
    sa.Column("health", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Index("health_transitions_by_app", "app_id", "at"),
)

port_shares = sa.Table(
    "port_shares",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "workspace_id",
        sa.Integer,
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
        nullable=False,
    ),
    # By name, as port URLs name the agent; apply deletes the shares of the agents it deletes.
    sa.Column("agent_name", sa.Text, nullable=False),
    sa.Column("port", sa.Integer, nullable=False),
    sa.Column("share", sa.Text, nullable=False),
    sa.UniqueConstraint("workspace_id", "agent_name", "port"),
    sa.CheckConstraint("share IN ('authenticated', 'public')", name="share"),
    sa.CheckConstraint(f"port BETWEEN {MIN_PORT} AND {MAX_PORT}", name="port"),
)

app_tickets = sa.Table(
    "app_tickets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("ticket_hash", sa.Text, nullable=False, unique=True),  # SHA-256, hex
    sa.Column(
        "user_id",
        sa.Integer,
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("host", sa.Text, nullable=False),  # the app host it may be redeemed on
    sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
)

server_secrets = sa.Table(
    "server_secrets",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),  # hex
)

# Each app with its agent, workspace and the workspace's owner: what the app queries read.
_APPS_WITH_OWNERS = (
    apps.join(agents, agents.c.id == apps.c.agent_id)
    .join(workspaces, workspaces.c.id == apps.c.workspace_id)
    .join(users, users.c.id == workspaces.c.owner_id)
)

# AppSpec fields stored in a column of the same name; order, group, healthcheck and agent differ.
_PLAIN_APP_FIELDS = (
    "url",
    "command",
    "display_name",
    "icon",
    "external",
    "subdomain",
    "share",
    "hidden",
    "open_in",
    "tooltip",
    "subdomain_label",
    "access_url",
)


def _migration_1(conn: Connection) -> None:
    """Users, tokens, workspaces, agents and apps.

    This step creates the tables as defined above; once a later step alters one of them, freeze
    this step first by giving it its own copy of version 1's definitions."""
    metadata.create_all(conn, tables=[users, tokens, workspaces, agents, apps], checkfirst=False)


def _migration_2(conn: Connection) -> None:
    """Every change of an app's health, with its reason."""
    metadata.create_all(conn, tables=[health_transitions], checkfirst=False)


def _migration_3(conn: Connection) -> None:
    """Shared ports, the app router's sign-in tickets and the server's secrets."""
    metadata.create_all(conn, tables=[port_shares, app_tickets, server_secrets], checkfirst=False)


MIGRATIONS: tuple[Callable[[Connection], None], ...] = (_migration_1, _migration_2, _migration_3)
"""Step N (1-based) upgrades a database at schema version N-1 to version N."""

SCHEMA_VERSION = len(MIGRATIONS)
"""The schema version this code reads and writes."""


# ----------------------------------------------------------------------------- helpers


def check_name(name: str, kind: str) -> None:
    """Refuse a user or workspace name that is not lower-case letters and digits joined by
    single hyphens, at most NAME_LIMIT characters (Coder's rule, lower-case only)."""
    if not name:
        raise StoreError(f"{kind} name is empty")
    if len(name) > NAME_LIMIT:
        raise StoreError(
            f"{kind} name {name!r} is {len(name)} characters long; at most {NAME_LIMIT} are allowed"
        )
    if not _NAME.fullmatch(name):
        raise StoreError(
            f"{kind} name {name!r} is invalid: use lower-case letters, digits and single hyphens, "
            "starting and ending with a letter or digit"
        )


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _now() -> datetime:
    return datetime.now(UTC)


def _chunks(values: Sequence[int], size: int = _DELETE_CHUNK) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _check_port(port: int) -> None:
    """Refuse a port that cannot be shared: not a TCP port, or one templater reserves."""
    if not 1 <= port <= MAX_PORT:
        raise StoreError(f"{port} is not a port: use {MIN_PORT} to {MAX_PORT}")
    if port < MIN_PORT:
        raise StoreError(f"port {port} cannot be shared: templater reserves ports below {MIN_PORT}")


def _conflict(address: str, now: int | None, planned: int) -> VersionConflict:
    if now is None:
        message = f"workspace {address} no longer exists (planned against version {planned})"
    elif planned == 0:
        message = (
            f"workspace {address} already exists (now version {now}, planned as a new workspace)"
        )
    else:
        message = (
            f"workspace {address} changed since it was planned (now version {now}, "
            f"planned against {planned})"
        )
    return VersionConflict(message + "; plan again")


def _new_id(result: sa.CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _user(row: Any) -> User:
    return User(id=row.id, name=row.name, role=row.role)


def _app_columns() -> list[sa.ColumnElement[Any]]:
    return [apps.c[name] for name in _PLAIN_APP_FIELDS] + [
        apps.c.slug,
        apps.c.display_order,
        apps.c.app_group,
        apps.c.healthcheck_url,
        apps.c.healthcheck_interval,
        apps.c.healthcheck_threshold,
    ]


def _spec(row: Any, agent: str) -> AppSpec:
    healthcheck = None
    if row.healthcheck_url is not None:
        healthcheck = Healthcheck(
            row.healthcheck_url, row.healthcheck_interval, row.healthcheck_threshold
        )
    return AppSpec(
        slug=row.slug,
        agent=agent,
        url=row.url,
        command=row.command,
        display_name=row.display_name,
        icon=row.icon,
        external=row.external,
        subdomain=row.subdomain,
        share=row.share,
        order=row.display_order,
        hidden=row.hidden,
        open_in=row.open_in,
        group=row.app_group,
        tooltip=row.tooltip,
        healthcheck=healthcheck,
        subdomain_label=row.subdomain_label,
        access_url=row.access_url,
    )


def _app_values(spec: AppSpec, health: str, health_changed_at: datetime | None) -> dict[str, Any]:
    """The columns of an app row that come from its spec and health (not its ids)."""
    values: dict[str, Any] = {name: getattr(spec, name) for name in _PLAIN_APP_FIELDS}
    check = spec.healthcheck
    values.update(
        slug=spec.slug,
        display_order=spec.order,
        app_group=spec.group,
        healthcheck_url=check.url if check else None,
        healthcheck_interval=check.interval if check else None,
        healthcheck_threshold=check.threshold if check else None,
        health=health,
        health_changed_at=health_changed_at,
    )
    return values


def _initial_health(spec: AppSpec, now: datetime) -> tuple[str, datetime | None]:
    if spec.healthcheck is None:
        return HEALTH_DISABLED, None
    return HEALTH_INITIALIZING, now


def _check_desired(desired: DesiredState) -> None:
    agent_names: set[str] = set()
    for agent in desired.agents:
        if not agent.name:
            raise StoreError("an agent has an empty name")
        if agent.name in agent_names:
            raise StoreError(f"agent {agent.name} appears more than once")
        if not agent.address:
            raise StoreError(f"agent {agent.name} has an empty address")
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


@dataclass(slots=True)
class _StoredApp:
    id: int
    spec: AppSpec
    health: str
    health_changed_at: datetime | None


@dataclass(slots=True)
class _Changes:
    """What an apply does to a workspace's rows, and the addresses it reports."""

    delete_app_ids: list[int] = field(default_factory=list)
    delete_agent_ids: list[int] = field(default_factory=list)
    delete_agent_names: list[str] = field(default_factory=list)  # their shared ports go too
    agent_addresses: list[dict[str, Any]] = field(default_factory=list)  # updates in place
    new_agents: list[AgentSpec] = field(default_factory=list)
    app_updates: list[dict[str, Any]] = field(default_factory=list)  # in place, keyed by b_id
    new_apps: list[tuple[AppSpec, str, datetime | None]] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.created or self.updated or self.replaced or self.deleted)


def _diff(
    current_agents: dict[str, tuple[int, str]],
    current_apps: dict[str, _StoredApp],
    desired: DesiredState,
    now: datetime,
) -> _Changes:
    """The fewest row changes that make the stored agents and apps equal ``desired``: unchanged
    rows untouched, changed ones updated in place (an app keeps its health unless its
    healthcheck changed), an app moved to another agent replaced (health reset)."""
    changes = _Changes()
    wanted_agents = {agent.name: agent.address for agent in desired.agents}
    stored_agents = {name: address for name, (_, address) in current_agents.items()}
    # Addresses by action, agents before apps, as the plan lists them.
    done: dict[str, list[str]] = {"create": [], "update": [], "replace": [], "delete": []}
    for action, name in classify(stored_agents, wanted_agents, lambda old, new: False):
        if action == "create":
            changes.new_agents.append(AgentSpec(name, wanted_agents[name]))
        elif action == "delete":
            changes.delete_agent_ids.append(current_agents[name][0])
            changes.delete_agent_names.append(name)
        else:
            changes.agent_addresses.append(
                {"b_id": current_agents[name][0], "address": wanted_agents[name]}
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
                {"b_id": stored_app.id, **_app_values(spec, health, changed_at)}
            )
        done[action].append(f"app.{slug}")

    changes.created = done["create"]
    changes.updated = done["update"]
    changes.replaced = done["replace"]
    changes.deleted = done["delete"]
    return changes


# The steps of an apply that write, in order; module functions so that tests can make one fail.


def _delete_rows(conn: Connection, workspace_id: int, changes: _Changes) -> None:
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


def _write_agents(conn: Connection, workspace_id: int, changes: _Changes) -> dict[str, int]:
    """Update and insert agents; answer every agent's id by name."""
    if changes.agent_addresses:
        conn.execute(
            sa.update(agents).where(agents.c.id == sa.bindparam("b_id")),
            changes.agent_addresses,
        )
    if changes.new_agents:
        conn.execute(
            sa.insert(agents),
            [
                {"workspace_id": workspace_id, "name": agent.name, "address": agent.address}
                for agent in changes.new_agents
            ],
        )
    rows = conn.execute(
        sa.select(agents.c.id, agents.c.name).where(agents.c.workspace_id == workspace_id)
    )
    return {row.name: row.id for row in rows}


def _update_apps(conn: Connection, changes: _Changes) -> None:
    if changes.app_updates:
        conn.execute(sa.update(apps).where(apps.c.id == sa.bindparam("b_id")), changes.app_updates)


def _insert_apps(
    conn: Connection, workspace_id: int, agent_ids: dict[str, int], changes: _Changes
) -> None:
    if changes.new_apps:
        conn.execute(
            sa.insert(apps),
            [
                {
                    "workspace_id": workspace_id,
                    "agent_id": agent_ids[spec.agent],
                    **_app_values(spec, health, changed_at),
                }
                for spec, health, changed_at in changes.new_apps
            ],
        )


# ----------------------------------------------------------------------------- store


def _use_wal(cursor: Any) -> None:
    """Switch a SQLite database to the WAL journal (once per file; it persists). The switch needs
    the database to itself and SQLite does not wait for that (no busy handler), so retry while
    other connections hold it, as long as a writer would wait."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    while True:
        try:
            cursor.execute("PRAGMA journal_mode")
            if str(cursor.fetchone()[0]).lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as problem:
            busy = "locked" in str(problem) or "busy" in str(problem)
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            "not a database URL; use sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE"
        ) from None
    backend = parsed.get_backend_name()
    shown = parsed.render_as_string(hide_password=True)
    if backend in ("postgresql", "postgres"):
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            return sa.create_engine(parsed, pool_pre_ping=True, hide_parameters=True)
        except NoSuchModuleError:
            raise StoreError(f"{shown}: unsupported PostgreSQL driver; use postgresql://") from None
    if backend != "sqlite":
        raise StoreError(f"{shown}: unsupported database; use sqlite:///PATH or postgresql://…")
    if parsed.database in (None, "", ":memory:"):
        raise StoreError(f"{shown}: SQLite needs a database file: sqlite:///PATH")
    engine = sa.create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT}, hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" below emit BEGIN, not the sqlite3 module (which defers it).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            _use_wal(cursor)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # A writer takes the write lock now, waiting for the busy timeout if another one holds
        # it: a deferred transaction that reads and then writes could fail with SQLITE_BUSY.
        write = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


class Store:
    """The registry on a SQLAlchemy database URL: ``sqlite:///PATH`` or
    ``postgresql://…`` (``postgresql+psycopg://…``). Safe to share between threads; call
    ``migrate()`` once before anything else and ``close()`` at the end."""

    def __init__(self, url: str) -> None:
        self._engine = _engine(url)
        self._writer = self._engine.execution_options(**{_WRITE: True})
        self._postgres = self._engine.dialect.name == "postgresql"

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._unavailable(), self._engine.connect() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._unavailable(), self._writer.begin() as conn:
            yield conn

    @contextmanager
    def _unavailable(self) -> Iterator[None]:
        try:
            yield
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as problem:
            if isinstance(problem, DBAPIError) and problem.connection_invalidated:
                raise StoreUnavailable("lost the connection to the database; try again") from None
            reason = str(problem.orig).strip().splitlines()[0] if problem.orig else str(problem)
            raise StoreUnavailable(f"database unavailable: {reason}") from None

    # --------------------------------------------------------------------- schema

    def migrate(self) -> int:
        """Create the schema or upgrade it to SCHEMA_VERSION, in one transaction; answer the
        version. Idempotent. Refuses a database whose schema is newer than this code."""
        with self._write() as conn:
            if self._postgres:  # two servers starting at once: one migrates, the other waits
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
            present = set(sa.inspect(conn).get_table_names())
            if schema_version.name in present:
                current = conn.scalar(sa.select(sa.func.max(schema_version.c.version))) or 0
            else:
                ours = present & {table.name for table in metadata.sorted_tables}
                if ours:
                    raise StoreError(
                        f"the database has tables {', '.join(sorted(ours))} but no "
                        "schema_version table; it was not created by templater"
                    )
                schema_version.create(conn)
                current = 0
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"the database's schema is version {current}, newer than this templater "
                    f"knows (version {SCHEMA_VERSION}); upgrade templater"
                )
            for number in range(current + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[number - 1](conn)
                conn.execute(sa.insert(schema_version).values(version=number, applied_at=_now()))
        return SCHEMA_VERSION

    # --------------------------------------------------------------------- users and tokens

    def create_user(self, name: str, role: str) -> tuple[User, str]:
        """A new user and its first API token (the only time the token is known in clear)."""
        check_name(name, "user")
        if role not in ROLES:
            raise StoreError(f"role {role!r} is invalid; use one of {', '.join(ROLES)}")
        token = _new_token()
        now = _now()
        with self._write() as conn:
            if conn.scalar(sa.select(users.c.id).where(users.c.name == name)) is not None:
                raise StoreError(f"user {name} already exists")
            try:
                result = conn.execute(sa.insert(users).values(name=name, role=role, created_at=now))
            except IntegrityError:  # created by a concurrent transaction (PostgreSQL)
                raise StoreError(f"user {name} already exists") from None
            user_id = _new_id(result)
            conn.execute(
                sa.insert(tokens).values(
                    user_id=user_id, token_hash=_hash_token(token), created_at=now
                )
            )
        return User(id=user_id, name=name, role=role), token

    def add_token(self, user_id: int) -> str:
        """A new API token for the user."""
        token = _new_token()
        with self._write() as conn:
            if conn.scalar(sa.select(users.c.id).where(users.c.id == user_id)) is None:
                raise StoreError(f"no user with id {user_id}")
            conn.execute(
                sa.insert(tokens).values(
                    user_id=user_id, token_hash=_hash_token(token), created_at=_now()
                )
            )
        return token

    def user_by_token(self, token: str) -> User | None:
        if not token:
            return None
        query = (
            sa.select(users.c.id, users.c.name, users.c.role)
            .join(tokens, tokens.c.user_id == users.c.id)
            .where(tokens.c.token_hash == _hash_token(token))
        )
        with self._read() as conn:
            row = conn.execute(query).first()
        return _user(row) if row is not None else None

    def user_by_name(self, name: str) -> User | None:
        query = sa.select(users.c.id, users.c.name, users.c.role).where(users.c.name == name)
        with self._read() as conn:
            row = conn.execute(query).first()
        return _user(row) if row is not None else None

    def list_users(self) -> list[User]:
        query = sa.select(users.c.id, users.c.name, users.c.role).order_by(users.c.name)
        with self._read() as conn:
            return [_user(row) for row in conn.execute(query)]

    def has_users(self) -> bool:
        with self._read() as conn:
            return conn.scalar(sa.select(users.c.id).limit(1)) is not None

    # --------------------------------------------------------------------- workspaces

    def get_workspace(self, owner: str, name: str) -> WorkspaceState | None:
        with self._read() as conn:
            found = self._workspaces(conn, owner, name)
        return found[0] if found else None

    def list_workspaces(self, owner: str | None = None) -> list[WorkspaceState]:
        """Every workspace of ``owner`` (None: of everyone), by owner and name."""
        with self._read() as conn:
            return self._workspaces(conn, owner, None)

    def list_apps(self, owner: str | None = None, workspace: str | None = None) -> list[AppRecord]:
        """The apps of ``owner``'s workspaces (None: everyone's), only those of the workspaces
        named ``workspace`` if given; by owner, workspace and slug."""
        with self._read() as conn:
            return self._apps(conn, owner, workspace)

    @staticmethod
    def _filters(owner: str | None, name: str | None) -> list[sa.ColumnElement[bool]]:
        filters = []
        if owner is not None:
            filters.append(users.c.name == owner)
        if name is not None:
            filters.append(workspaces.c.name == name)
        return filters

    def _workspaces(
        self, conn: Connection, owner: str | None, name: str | None
    ) -> list[WorkspaceState]:
        filters = self._filters(owner, name)
        owned = workspaces.join(users, users.c.id == workspaces.c.owner_id)
        rows = conn.execute(
            sa.select(
                workspaces.c.id,
                workspaces.c.name,
                users.c.name.label("owner"),
                workspaces.c.version,
                workspaces.c.source,
                workspaces.c.variables,
                workspaces.c.updated_at,
            )
            .select_from(owned)
            .where(*filters)
            .order_by(users.c.name, workspaces.c.name)
        ).all()
        if not rows:
            return []
        agent_rows = conn.execute(
            sa.select(agents.c.workspace_id, agents.c.name, agents.c.address)
            .select_from(agents.join(owned, workspaces.c.id == agents.c.workspace_id))
            .where(*filters)
            .order_by(agents.c.name)
        )
        by_workspace: dict[int, list[AgentSpec]] = {row.id: [] for row in rows}
        for agent in agent_rows:
            by_workspace[agent.workspace_id].append(AgentSpec(agent.name, agent.address))
        apps_by_workspace: dict[tuple[str, str], list[AppRecord]] = {}
        for app in self._apps(conn, owner, name):
            apps_by_workspace.setdefault((app.owner, app.workspace), []).append(app)
        return [
            WorkspaceState(
                name=row.name,
                owner=row.owner,
                version=row.version,
                source=dict(row.source),
                variables=dict(row.variables),
                agents=tuple(by_workspace[row.id]),
                apps=tuple(apps_by_workspace.get((row.owner, row.name), ())),
                updated_at=row.updated_at,
            )
            for row in rows
        ]

    def _apps(self, conn: Connection, owner: str | None, name: str | None) -> list[AppRecord]:
        rows = conn.execute(
            sa.select(
                *_app_columns(),
                apps.c.health,
                apps.c.health_changed_at,
                agents.c.name.label("agent"),
                workspaces.c.name.label("workspace"),
                users.c.name.label("owner"),
            )
            .select_from(_APPS_WITH_OWNERS)
            .where(*self._filters(owner, name))
            .order_by(users.c.name, workspaces.c.name, apps.c.slug)
        )
        records = []
        for row in rows:
            spec = _spec(row, row.agent)
            records.append(
                AppRecord(
                    **{field: getattr(spec, field) for field in APP_SPEC_FIELDS},
                    workspace=row.workspace,
                    owner=row.owner,
                    health=row.health,
                    health_changed_at=row.health_changed_at,
                )
            )
        return records

    # --------------------------------------------------------------------- health

    def health_targets(self) -> list[HealthTarget]:
        """Every app with a healthcheck, with its agent's address and its last known health."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(
                    apps.c.id,
                    users.c.name.label("owner"),
                    workspaces.c.name.label("workspace"),
                    apps.c.slug,
                    apps.c.healthcheck_url,
                    apps.c.healthcheck_interval,
                    apps.c.healthcheck_threshold,
                    agents.c.address,
                    apps.c.health,
                )
                .select_from(_APPS_WITH_OWNERS)
                .where(apps.c.healthcheck_url.is_not(None))
                .order_by(apps.c.id)
            )
            return [HealthTarget(*row) for row in rows]

    def record_health(self, changes: Sequence[tuple[int, str, str, datetime]]) -> list[HealthEvent]:
        """Store changes of health — (app id, health, reason, time) — in one transaction, with
        their history; a change for an app that is gone meanwhile is dropped. Answers the events
        for the changes kept."""
        if not changes:
            return []
        with self._write() as conn:
            known = {
                row.id: row
                for row in conn.execute(
                    sa.select(
                        apps.c.id,
                        apps.c.slug,
                        workspaces.c.name.label("workspace"),
                        users.c.name.label("owner"),
                    )
                    .select_from(_APPS_WITH_OWNERS)
                    .where(apps.c.id.in_({app_id for app_id, *_ in changes}))
                )
            }
            kept = [change for change in changes if change[0] in known]
            if not kept:
                return []
            conn.execute(
                sa.update(apps)
                .where(apps.c.id == sa.bindparam("b_id"))
                .values(health=sa.bindparam("b_health"), health_changed_at=sa.bindparam("b_at")),
                [{"b_id": i, "b_health": h, "b_at": at} for i, h, _, at in kept],
            )
            conn.execute(
                sa.insert(health_transitions),
                [{"app_id": i, "health": h, "reason": r, "at": at} for i, h, r, at in kept],
            )
        return [
            HealthEvent(known[i].owner, known[i].workspace, known[i].slug, h, r, at)
            for i, h, r, at in kept
        ]

    def health_history(
        self, owner: str, workspace: str, slug: str, limit: int = 20
    ) -> list[HealthEvent] | None:
        """An app's latest changes of health, newest first; None when there is no such app."""
        with self._read() as conn:
            app_id = conn.scalar(
                sa.select(apps.c.id)
                .select_from(_APPS_WITH_OWNERS)
                .where(users.c.name == owner, workspaces.c.name == workspace, apps.c.slug == slug)
            )
            if app_id is None:
                return None
            rows = conn.execute(
                sa.select(
                    health_transitions.c.health,
                    health_transitions.c.reason,
                    health_transitions.c.at,
                )
                .where(health_transitions.c.app_id == app_id)
                .order_by(health_transitions.c.at.desc(), health_transitions.c.id.desc())
                .limit(limit)
            )
            return [HealthEvent(owner, workspace, slug, *row) for row in rows]

    # --------------------------------------------------------------------- workspaces

    def apply(
        self, owner: str, name: str, expected_version: int, desired: DesiredState
    ) -> ApplyResult:
        """Make ``owner``'s workspace ``name`` hold exactly ``desired``, in one transaction.

        ``expected_version`` is the version the caller planned against: 0 for a workspace that
        must not exist yet (it is created at version 1). When the stored version differs, raise
        VersionConflict. An apply that changes nothing leaves everything, the version included."""
        check_name(name, "workspace")
        if expected_version < 0:
            raise StoreError(f"expected version {expected_version} is negative")
        _check_desired(desired)
        address = f"{owner}/{name}"
        now = _now()
        with self._write() as conn:
            owner_id = conn.scalar(sa.select(users.c.id).where(users.c.name == owner))
            if owner_id is None:
                raise StoreError(f"no user named {owner}")
            row = conn.execute(
                sa.select(
                    workspaces.c.id,
                    workspaces.c.version,
                    workspaces.c.source,
                    workspaces.c.variables,
                )
                .where(workspaces.c.owner_id == owner_id, workspaces.c.name == name)
                .with_for_update()  # PostgreSQL: concurrent applies queue here
            ).first()
            if row is None:
                if expected_version != 0:
                    raise _conflict(address, None, expected_version)
                try:
                    result = conn.execute(
                        sa.insert(workspaces).values(
                            owner_id=owner_id,
                            name=name,
                            version=1,
                            source=desired.source,
                            variables=desired.variables,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                except IntegrityError:  # created by a concurrent transaction (PostgreSQL)
                    raise VersionConflict(
                        f"workspace {address} was created since it was planned; plan again"
                    ) from None
                workspace_id, version = _new_id(result), 1
                changes = _diff({}, {}, desired, now)
            else:
                if row.version != expected_version:
                    raise _conflict(address, row.version, expected_version)
                workspace_id = row.id
                changes = _diff(*self._current(conn, workspace_id), desired, now)
                if changes.empty() and (row.source, row.variables) == (
                    desired.source,
                    desired.variables,
                ):
                    return ApplyResult(row.version, (), (), (), ())
                bumped = conn.execute(
                    sa.update(workspaces)
                    .where(
                        workspaces.c.id == workspace_id, workspaces.c.version == expected_version
                    )
                    .values(
                        version=workspaces.c.version + 1,
                        source=desired.source,
                        variables=desired.variables,
                        updated_at=now,
                    )
                )
                if bumped.rowcount != 1:
                    stored = conn.scalar(
                        sa.select(workspaces.c.version).where(workspaces.c.id == workspace_id)
                    )
                    raise _conflict(address, stored, expected_version)
                version = expected_version + 1
            _delete_rows(conn, workspace_id, changes)
            agent_ids = _write_agents(conn, workspace_id, changes)
            _update_apps(conn, changes)
            _insert_apps(conn, workspace_id, agent_ids, changes)
        return ApplyResult(
            version=version,
            created=tuple(changes.created),
            updated=tuple(changes.updated),
            replaced=tuple(changes.replaced),
            deleted=tuple(changes.deleted),
        )

    @staticmethod
    def _current(
        conn: Connection, workspace_id: int
    ) -> tuple[dict[str, tuple[int, str]], dict[str, _StoredApp]]:
        agent_rows = conn.execute(
            sa.select(agents.c.id, agents.c.name, agents.c.address).where(
                agents.c.workspace_id == workspace_id
            )
        )
        current_agents = {row.name: (row.id, row.address) for row in agent_rows}
        names = {agent_id: name for name, (agent_id, _) in current_agents.items()}
        app_rows = conn.execute(
            sa.select(
                apps.c.id, apps.c.agent_id, apps.c.health, apps.c.health_changed_at, *_app_columns()
            ).where(apps.c.workspace_id == workspace_id)
        )
        current_apps = {
            row.slug: _StoredApp(
                row.id,
                _spec(row, names[row.agent_id]),
                row.health,
                row.health_changed_at,
            )
            for row in app_rows
        }
        return current_agents, current_apps

    def destroy(self, owner: str, name: str, expected_version: int | None = None) -> bool:
        """Delete the workspace with its agents, apps and shared ports, in one transaction; False
        when there is no such workspace. With ``expected_version``, raise VersionConflict if it
        differs."""
        address = f"{owner}/{name}"
        with self._write() as conn:
            row = conn.execute(
                sa.select(workspaces.c.id, workspaces.c.version)
                .select_from(workspaces.join(users, users.c.id == workspaces.c.owner_id))
                .where(users.c.name == owner, workspaces.c.name == name)
                .with_for_update(of=workspaces)
            ).first()
            if row is None:
                return False
            if expected_version is not None and row.version != expected_version:
                raise _conflict(address, row.version, expected_version)
            conn.execute(sa.delete(apps).where(apps.c.workspace_id == row.id))
            conn.execute(sa.delete(agents).where(agents.c.workspace_id == row.id))
            conn.execute(sa.delete(port_shares).where(port_shares.c.workspace_id == row.id))
            deleted = conn.execute(
                sa.delete(workspaces).where(
                    workspaces.c.id == row.id, workspaces.c.version == row.version
                )
            )
            if deleted.rowcount != 1:
                raise _conflict(address, None, row.version)
        return True

    # --------------------------------------------------------------------- app router

    def app_route(self, owner: str, workspace: str, slug: str) -> AppRoute | None:
        """Where the app router sends an app's requests; None when there is no such app, or it
        is not served by templater (a command, or an external URL)."""
        query = (
            sa.select(
                agents.c.name.label("agent"),
                agents.c.address,
                apps.c.url,
                apps.c.share,
                apps.c.subdomain_label,
            )
            .select_from(_APPS_WITH_OWNERS)
            .where(
                users.c.name == owner,
                workspaces.c.name == workspace,
                apps.c.slug == slug,
                apps.c.url.is_not(None),
                sa.not_(apps.c.external),
            )
        )
        with self._read() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return AppRoute(
            owner=owner,
            workspace=workspace,
            slug=slug,
            agent=row.agent,
            address=row.address,
            url=row.url,
            share=row.share,
            subdomain=row.subdomain_label is not None,
        )

    def port_route(self, owner: str, workspace: str, agent: str, port: int) -> PortRoute | None:
        """Where the app router sends a port URL's requests, and who may reach the port (its
        share level, ``owner`` when it is not shared); None when there is no such workspace or
        agent. The port itself is not checked."""
        shared = sa.and_(
            port_shares.c.workspace_id == agents.c.workspace_id,
            port_shares.c.agent_name == agents.c.name,
            port_shares.c.port == port,
        )
        query = (
            sa.select(agents.c.address, port_shares.c.share)
            .select_from(
                agents.join(workspaces, workspaces.c.id == agents.c.workspace_id)
                .join(users, users.c.id == workspaces.c.owner_id)
                .outerjoin(port_shares, shared)
            )
            .where(users.c.name == owner, workspaces.c.name == workspace, agents.c.name == agent)
        )
        with self._read() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return PortRoute(owner, workspace, agent, row.address, port, row.share or "owner")

    # --------------------------------------------------------------------- shared ports

    def share_port(
        self, owner: str, workspace: str, agent: str, port: int, share: str
    ) -> PortShare:
        """Share a port of a workspace's agent at ``share`` (one of PORT_SHARE_LEVELS), or change
        the level it is shared at. NotFound when there is no such workspace or agent."""
        if share not in PORT_SHARE_LEVELS:
            raise StoreError(
                f"share level {share!r} is invalid; use one of {', '.join(PORT_SHARE_LEVELS)}"
            )
        _check_port(port)
        with self._write() as conn:
            # Locked as an apply locks it: an apply that deletes the agent goes before or after.
            workspace_id = conn.scalar(
                sa.select(workspaces.c.id)
                .select_from(workspaces.join(users, users.c.id == workspaces.c.owner_id))
                .where(users.c.name == owner, workspaces.c.name == workspace)
                .with_for_update(of=workspaces)
            )
            if workspace_id is None:
                raise NotFound(f"there is no workspace {owner}/{workspace}")
            agent_id = conn.scalar(
                sa.select(agents.c.id).where(
                    agents.c.workspace_id == workspace_id, agents.c.name == agent
                )
            )
            if agent_id is None:
                raise NotFound(f"workspace {owner}/{workspace} has no agent {agent}")
            updated = conn.execute(
                sa.update(port_shares)
                .where(
                    port_shares.c.workspace_id == workspace_id,
                    port_shares.c.agent_name == agent,
                    port_shares.c.port == port,
                )
                .values(share=share)
            )
            if updated.rowcount == 0:
                conn.execute(
                    sa.insert(port_shares).values(
                        workspace_id=workspace_id, agent_name=agent, port=port, share=share
                    )
                )
        return PortShare(agent, port, share)

    def unshare_port(self, owner: str, workspace: str, agent: str, port: int) -> bool:
        """Make a port owner-only again; False when it was not shared."""
        if not 1 <= port <= MAX_PORT:
            return False  # never shared; and SQLite cannot even compare a huge integer
        workspace_ids = (
            sa.select(workspaces.c.id)
            .select_from(workspaces.join(users, users.c.id == workspaces.c.owner_id))
            .where(users.c.name == owner, workspaces.c.name == workspace)
        )
        with self._write() as conn:
            deleted = conn.execute(
                sa.delete(port_shares).where(
                    port_shares.c.workspace_id.in_(workspace_ids),
                    port_shares.c.agent_name == agent,
                    port_shares.c.port == port,
                )
            )
        return deleted.rowcount == 1

    def port_shares(self, owner: str, workspace: str) -> list[PortShare] | None:
        """A workspace's shared ports, by agent and port; None when there is no such workspace."""
        shared = workspaces.join(users, users.c.id == workspaces.c.owner_id).outerjoin(
            port_shares, port_shares.c.workspace_id == workspaces.c.id
        )
        query = (
            sa.select(port_shares.c.agent_name, port_shares.c.port, port_shares.c.share)
            .select_from(shared)
            .where(users.c.name == owner, workspaces.c.name == workspace)
            .order_by(port_shares.c.agent_name, port_shares.c.port)
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
        if not rows:
            return None
        return [PortShare(*row) for row in rows if row.agent_name is not None]

    # --------------------------------------------------------------------- sign-in tickets

    def create_ticket(self, user_id: int, host: str, lifetime: timedelta) -> str:
        """A new ticket that signs the user in once, on the app host ``host`` (compared without
        regard to case), until ``lifetime`` from now; stored only as its hash. Deletes the
        tickets that expired meanwhile."""
        if lifetime <= timedelta(0):
            raise StoreError(f"a ticket's lifetime must be positive, not {lifetime}")
        ticket = secrets.token_urlsafe(32)
        now = _now()
        with self._write() as conn:
            if conn.scalar(sa.select(users.c.id).where(users.c.id == user_id)) is None:
                raise NotFound(f"no user with id {user_id}")
            conn.execute(sa.delete(app_tickets).where(app_tickets.c.expires_at <= now))
            conn.execute(
                sa.insert(app_tickets).values(
                    ticket_hash=_hash_token(ticket),
                    user_id=user_id,
                    host=host.lower(),
                    expires_at=now + lifetime,
                )
            )
        return ticket

    def redeem_ticket(self, ticket: str, host: str) -> User | None:
        """The user a ticket signs in, on the app host it was made for. A ticket is used up as it
        is read (deleted in the same transaction: of two redeems at once, one gets nothing), also
        when it is presented on another host or has expired. None for an unknown, used or
        expired ticket, or another host."""
        if not ticket:
            return None
        with self._write() as conn:
            used = conn.execute(
                sa.delete(app_tickets)
                .where(app_tickets.c.ticket_hash == _hash_token(ticket))
                .returning(app_tickets.c.user_id, app_tickets.c.host, app_tickets.c.expires_at)
            ).first()
            if used is None or used.host != host.lower() or used.expires_at <= _now():
                return None
            row = conn.execute(
                sa.select(users.c.id, users.c.name, users.c.role).where(users.c.id == used.user_id)
            ).first()
        return _user(row) if row is not None else None

    # --------------------------------------------------------------------- server secrets

    def secret(self, name: str) -> bytes:
        """The server's secret called ``name``: SECRET_BYTES random bytes, made the first time
        it is asked for and the same ever after, for every server on the database (of two that
        ask at once, one stores its own and both get that one)."""
        query = sa.select(server_secrets.c.value).where(server_secrets.c.name == name)
        with self._read() as conn:
            stored = conn.scalar(query)
        if stored is None:
            values = {"name": name, "value": secrets.token_hex(SECRET_BYTES)}
            new: sa.Insert
            if self._postgres:
                new = postgresql.insert(server_secrets).values(values).on_conflict_do_nothing()
            else:
                new = sqlite.insert(server_secrets).values(values).on_conflict_do_nothing()
            with self._write() as conn:
                conn.execute(new)
                stored = conn.scalar(query)  # ours, or the one stored before it
        assert stored is not None
        return bytes.fromhex(stored)
