"""The registry's schema: users, their API tokens and browser sessions, workspaces, agents and
apps, the ports owners share, the app router's sign-in tickets and the server's own secrets.

One schema for SQLite (the embedded default) and PostgreSQL, written with SQLAlchemy Core and
created or upgraded by numbered migration steps (``MIGRATIONS``, run by ``Store.migrate``); and
how an app's row stands for its ``AppSpec``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

from templater.model.hostnames import MAX_PORT, MIN_PORT
from templater.model.records import AppSpec, Healthcheck


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
    sa.Column("suspended_at", UTCDateTime()),  # NULL while the user is active
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
    sa.Column("name", sa.Text, nullable=False, server_default=""),
    sa.Column("expires_at", UTCDateTime()),  # NULL: never
    sa.Column("last_used_at", UTCDateTime()),  # to the minute, so that a read rarely writes
    # `templater tokens revoke ID` names a token by id: an id must never come back for a later
    # token, which SQLite's plain rowids would do after the newest token was revoked.
    sqlite_autoincrement=True,
)

browser_sessions = sa.Table(
    "browser_sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "user_id",
        sa.Integer,
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
    # A cookie names its session by id: an id must never come back for a later session, which
    # SQLite's plain rowids would do after the latest session ended.
    sqlite_autoincrement=True,
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
    # The agent token's SHA-256 (hex), like API tokens'; NULL until one is issued.
    sa.Column("token_hash", sa.Text, index=True, unique=True),
    # connecting, connected or disconnected (timeout is computed when read), and since when.
    sa.Column("state", sa.Text, nullable=False, server_default="connecting"),
    sa.Column("state_changed_at", UTCDateTime(), nullable=False),
    sa.Column("connection_timeout", sa.Integer, nullable=False, server_default="120"),
    # What the agent said of itself when it last connected.
    sa.Column("version", sa.Text),
    sa.Column("os", sa.Text),
    sa.Column("arch", sa.Text),
    sa.Column("hostname", sa.Text),
    # Its SSH host public key ("ssh-ed25519 AAAA…"), kept while it is away: config-ssh pins it.
    sa.Column("ssh_host_key", sa.Text),
    # The control-plane process holding the agent's connection now ("hostname:pid"), or NULL.
    sa.Column("server", sa.Text),
    # The ports it reports listening: [{"port": int, "process": str}], empty unless connected.
    sa.Column("ports", sa.JSON, nullable=False, server_default="[]"),
    sa.UniqueConstraint("workspace_id", "name"),
    sa.CheckConstraint("state IN ('connecting', 'connected', 'disconnected')", name="state"),
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
    # The session it carries to the app host: the app's cookie ends with it.
    sa.Column(
        "session_id",
        sa.Integer,
        sa.ForeignKey("browser_sessions.id", ondelete="CASCADE"),
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


def _version_1() -> sa.MetaData:
    """Users, tokens, workspaces, agents and apps as schema version 1 defined them (frozen: the
    tables above are what the latest step leaves, which later steps changed)."""
    frozen = sa.MetaData(naming_convention=metadata.naming_convention)
    sa.Table(
        "users",
        frozen,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("role IN ('admin', 'member')", name="role"),
    )
    sa.Table(
        "tokens",
        frozen,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("token_hash", sa.Text, nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    sa.Table(
        "workspaces",
        frozen,
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
    sa.Table(
        "agents",
        frozen,
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
    sa.Table(
        "apps",
        frozen,
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
        sa.Column("display_order", sa.Integer),
        sa.Column("hidden", sa.Boolean, nullable=False),
        sa.Column("open_in", sa.Text),
        sa.Column("app_group", sa.Text),
        sa.Column("tooltip", sa.Text),
        sa.Column("healthcheck_url", sa.Text),
        sa.Column("healthcheck_interval", sa.Integer),
        sa.Column("healthcheck_threshold", sa.Integer),
        sa.Column("subdomain_label", sa.Text),
        sa.Column("access_url", sa.Text),
        sa.Column("health", sa.Text, nullable=False),
        sa.Column("health_changed_at", UTCDateTime()),
        sa.UniqueConstraint("workspace_id", "slug"),
    )
    return frozen


def _migration_1(conn: Connection) -> None:
    """Users, tokens, workspaces, agents and apps, as version 1 defined them."""
    _version_1().create_all(conn, checkfirst=False)


def _migration_2(conn: Connection) -> None:
    """Every change of an app's health, with its reason."""
    metadata.create_all(conn, tables=[health_transitions], checkfirst=False)


def _version_3_tickets(frozen: sa.MetaData) -> sa.Table:
    """The sign-in tickets as schema version 3 defined them (by user; version 6 made them by
    session)."""
    sa.Table("users", frozen, sa.Column("id", sa.Integer, primary_key=True))
    return sa.Table(
        "app_tickets",
        frozen,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ticket_hash", sa.Text, nullable=False, unique=True),
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("host", sa.Text, nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
    )


def _migration_3(conn: Connection) -> None:
    """Shared ports, the app router's sign-in tickets and the server's secrets."""
    metadata.create_all(conn, tables=[port_shares, server_secrets], checkfirst=False)
    frozen = sa.MetaData(naming_convention=metadata.naming_convention)
    _version_3_tickets(frozen).create(conn, checkfirst=False)


def _migration_4(conn: Connection) -> None:
    """Workspace agents' tokens and states: each agent's token hash (unique), its state since
    when (existing agents are ``connecting`` from now), its connection timeout, what it says of
    itself when it connects, the server holding its connection and its listening ports.

    Columns added in place (ALTER TABLE), as SQLite cannot rebuild a table that others reference
    inside a transaction; a NOT NULL column there needs a constant default, so the time of the
    migration is written as one (PostgreSQL drops it again)."""
    dialect = conn.dialect
    postgres = dialect.name == "postgresql"
    now = datetime.now(UTC)
    if postgres:
        since = now.isoformat()
    else:  # as SQLAlchemy's SQLite DATETIME stores naive UTC
        since = now.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    text, integer, moment, document = (
        _sql_type(conn, sa.Text()),
        _sql_type(conn, sa.Integer()),
        _sql_type(conn, UTCDateTime()),
        _sql_type(conn, sa.JSON()),
    )
    states = "'connecting', 'connected', 'disconnected'"
    columns = [
        f"token_hash {text}",
        f"state {text} NOT NULL DEFAULT 'connecting' "
        f"CONSTRAINT ck_agents_state CHECK (state IN ({states}))",
        f"state_changed_at {moment} NOT NULL DEFAULT '{since}'",
        f"connection_timeout {integer} NOT NULL DEFAULT 120",
        f"version {text}",
        f"os {text}",
        f"arch {text}",
        f"hostname {text}",
        f"server {text}",
        f"ports {document} NOT NULL DEFAULT '[]'",
    ]
    for column in columns:
        conn.exec_driver_sql(f"ALTER TABLE agents ADD COLUMN {column}")
    if postgres:
        conn.exec_driver_sql("ALTER TABLE agents ALTER COLUMN state_changed_at DROP DEFAULT")
    conn.exec_driver_sql("CREATE UNIQUE INDEX ix_agents_token_hash ON agents (token_hash)")


def _migration_5(conn: Connection) -> None:
    """Agents have no address: the control plane never connects to a workspace; its agent
    dials in (SPEC §11). Their apps wait for their agent."""
    conn.exec_driver_sql("ALTER TABLE agents DROP COLUMN address")


def _migration_6(conn: Connection) -> None:
    """Tokens and sessions that can end (issue 13): tokens get a name, an expiry and their last
    use; users can be suspended; browser sessions are kept, so that signing out or suspending a
    user ends them; sign-in tickets carry a session (the old ones, a minute long at most, are
    dropped with their table)."""
    text, moment = _sql_type(conn, sa.Text()), _sql_type(conn, UTCDateTime())
    for column in (
        f"name {text} NOT NULL DEFAULT ''",
        f"expires_at {moment}",
        f"last_used_at {moment}",
    ):
        conn.exec_driver_sql(f"ALTER TABLE tokens ADD COLUMN {column}")
    conn.exec_driver_sql(f"ALTER TABLE users ADD COLUMN suspended_at {moment}")
    conn.exec_driver_sql("DROP TABLE app_tickets")
    metadata.create_all(conn, tables=[browser_sessions, app_tickets], checkfirst=False)


def _migration_7(conn: Connection) -> None:
    """Agents' SSH host keys, as each reports it in its hello (SPEC §12)."""
    conn.exec_driver_sql(f"ALTER TABLE agents ADD COLUMN ssh_host_key {_sql_type(conn, sa.Text())}")


def _migration_8(conn: Connection) -> None:
    """Tokens' ids are never used again (SQLite: AUTOINCREMENT, which only a new table gets;
    PostgreSQL's sequences never went back)."""
    if conn.dialect.name != "sqlite":
        return
    conn.exec_driver_sql("ALTER TABLE tokens RENAME TO tokens_before_8")
    for index in sa.inspect(conn).get_indexes("tokens_before_8"):
        conn.exec_driver_sql(f'DROP INDEX "{index["name"]}"')
    metadata.create_all(conn, tables=[tokens], checkfirst=False)
    columns = ", ".join(column.name for column in tokens.columns)
    conn.exec_driver_sql(f"INSERT INTO tokens ({columns}) SELECT {columns} FROM tokens_before_8")
    conn.exec_driver_sql("DROP TABLE tokens_before_8")


def _sql_type(conn: Connection, type_: sa.types.TypeEngine[Any]) -> str:
    """How ``type_`` is written in this database's DDL."""
    return str(type_.compile(dialect=conn.dialect))


MIGRATIONS: tuple[Callable[[Connection], None], ...] = (
    _migration_1,
    _migration_2,
    _migration_3,
    _migration_4,
    _migration_5,
    _migration_6,
    _migration_7,
    _migration_8,
)
"""Step N (1-based) upgrades a database at schema version N-1 to version N."""

SCHEMA_VERSION = len(MIGRATIONS)
"""The schema version this code reads and writes."""


# ----------------------------------------------------------------------------- apps' rows

# Each app with its agent, workspace and the workspace's owner: what the app queries read.
APPS_WITH_OWNERS = (
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


def app_columns() -> list[sa.ColumnElement[Any]]:
    """The columns of an app row that ``app_spec`` reads."""
    return [apps.c[name] for name in _PLAIN_APP_FIELDS] + [
        apps.c.slug,
        apps.c.display_order,
        apps.c.app_group,
        apps.c.healthcheck_url,
        apps.c.healthcheck_interval,
        apps.c.healthcheck_threshold,
    ]


def app_spec(row: Any, agent: str) -> AppSpec:
    """The spec of an app row read with ``app_columns``, on its agent ``agent``."""
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


def app_values(spec: AppSpec, health: str, health_changed_at: datetime | None) -> dict[str, Any]:
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
