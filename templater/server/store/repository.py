"""The registry's repository: ``Store``, on the tables of ``schema`` and an engine from
``database``.

``Store`` is a thin typed repository: the rules that need the database (unique names, the
optimistic version check of an apply, atomic applies) live here; nothing here knows about HTTP.
``migrate`` creates or upgrades the schema by its numbered migration steps.

PostgreSQL: READ COMMITTED; an apply locks its workspace's row (``SELECT … FOR UPDATE``) and
bumps the version with a conditional ``UPDATE``. SQLite: a writer holds the write lock from the
start of its transaction (see ``database``). What an apply writes is worked out in ``applying``.

Workspace agents: each has at most one agent token (stored as its hash, ended by a new one, by
an apply that removes the agent and by a destroy), a state (``connecting``, ``connected`` or
``disconnected``; ``timeout`` is computed when read) and the server process holding its
connection, which alone may mark it disconnected.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError

from templater.model.hostnames import MAX_PORT, MIN_PORT
from templater.model.levels import PORT_SHARE_LEVELS, ROLES
from templater.model.limits import DEFAULT_LIMITS, MemberLimits, apply_breach
from templater.model.records import (
    AGENT_CONNECTED,
    AGENT_DISCONNECTED,
    APP_SPEC_FIELDS,
    USER_ACTIVE,
    USER_SUSPENDED,
    AgentCheck,
    AgentEvent,
    AgentIdentity,
    AgentRecord,
    AgentRoute,
    AgentSpec,
    ApplyResult,
    AppRecord,
    AppRoute,
    BrowserSession,
    DesiredState,
    HealthEvent,
    ListeningPort,
    PortRoute,
    PortsEvent,
    PortShare,
    SharedPort,
    TokenRecord,
    User,
    UserRecord,
    WorkspaceState,
    agent_state,
)
from templater.server.store import applying
from templater.server.store.database import WRITE, make_engine
from templater.server.store.errors import (
    LimitExceeded,
    NotFound,
    StoreError,
    StoreUnavailable,
    VersionConflict,
)
from templater.server.store.schema import (
    APPS_WITH_OWNERS,
    MIGRATIONS,
    SCHEMA_VERSION,
    agents,
    app_columns,
    app_spec,
    app_tickets,
    apps,
    browser_sessions,
    health_transitions,
    metadata,
    port_shares,
    schema_version,
    server_secrets,
    tokens,
    users,
    workspaces,
)

TOKEN_PREFIX = "tpl_"
"""Every API token starts with this, so that a leaked one is recognisable (secret scanners)."""

AGENT_TOKEN_PREFIX = "tpa_"
"""Every agent token starts with this: told apart from API tokens at a glance, and by scanners."""

MAX_TOKEN = 256
"""The longest text looked up as a token (a real one is 47 characters): anything longer is no
token, refused without hashing it."""

TOKEN_NAME_LIMIT = 64
"""The longest name an API token may be given."""

SELF = "me"
"""What the API reads, in place of a user name, as the user who asks (no user has this name)."""

_USE_NOTED_EVERY = timedelta(minutes=1)
"""How stale a token's last use may be before a request that uses it writes it again."""

AGENT_HEALTH_STATES = ("initializing", "healthy", "unhealthy")
"""The states an agent may report for its apps' health."""

NAME_LIMIT = 32
"""The longest user or workspace name (Coder's limit)."""

SECRET_BYTES = 32
"""The length of a server secret (``Store.secret``)."""

_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_ID_CHUNK = 500  # ids per IN (…) list
_MIGRATION_LOCK = 0x7465_6D70  # PostgreSQL advisory lock key held while migrating ("temp")


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


def hash_token(token: str) -> str:
    """How a token (API, agent) or ticket is stored: its SHA-256, in hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _now() -> datetime:
    return datetime.now(UTC)


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


def _locked_workspace(conn: Connection, owner: str, workspace: str) -> int:
    """The workspace's id, its row locked as an apply locks it (an apply that deletes one of its
    agents goes before or after); NotFound when there is none."""
    workspace_id = conn.scalar(
        sa.select(workspaces.c.id)
        .select_from(workspaces.join(users, users.c.id == workspaces.c.owner_id))
        .where(users.c.name == owner, workspaces.c.name == workspace)
        .with_for_update(of=workspaces)
    )
    if workspace_id is None:
        raise NotFound(f"there is no workspace {owner}/{workspace}")
    return int(workspace_id)


def _user(row: Any) -> User:
    return User(id=row.id, name=row.name, role=row.role)


def _user_record(row: Any) -> UserRecord:
    status = USER_ACTIVE if row.suspended_at is None else USER_SUSPENDED
    return UserRecord(row.name, row.role, status, row.created_at)


# Each agent with its workspace and the workspace's owner.
_AGENTS_WITH_OWNERS = agents.join(workspaces, workspaces.c.id == agents.c.workspace_id).join(
    users, users.c.id == workspaces.c.owner_id
)


def _ports(stored: Any) -> tuple[ListeningPort, ...]:
    """The ports an agent row holds, skipping whatever is not a port entry."""
    if not isinstance(stored, list):
        return ()
    return tuple(
        ListeningPort(entry["port"], entry["process"])
        for entry in stored
        if isinstance(entry, dict)
        and isinstance(entry.get("port"), int)
        and isinstance(entry.get("process"), str)
    )


class Store:
    """The registry on a SQLAlchemy database URL: ``sqlite:///PATH`` or
    ``postgresql://…`` (``postgresql+psycopg://…``). Safe to share between threads; call
    ``migrate()`` once before anything else and ``close()`` at the end."""

    def __init__(self, url: str) -> None:
        self._engine = make_engine(url)
        self._writer = self._engine.execution_options(**{WRITE: True})
        self._postgres = self._engine.dialect.name == "postgresql"

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _read(self, snapshot: bool = False) -> Iterator[Connection]:
        """A connection to read with; with ``snapshot``, every statement sees the same state
        (SQLite's transactions always do; PostgreSQL's READ COMMITTED does not)."""
        with self._unavailable(), self._engine.connect() as conn:
            if snapshot and conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
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
        if name == SELF:
            raise StoreError(f"user name {name!r} is reserved: the API reads it as the caller")
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
                    user_id=user_id, token_hash=hash_token(token), created_at=now, name="first"
                )
            )
        return User(id=user_id, name=name, role=role), token

    def add_token(
        self, user_id: int, name: str = "", lifetime: timedelta | None = None
    ) -> tuple[TokenRecord, str]:
        """A new API token for the user, lasting ``lifetime`` (None: until revoked); its record
        and its secret (the only time it is known in clear)."""
        if len(name) > TOKEN_NAME_LIMIT or not name.isprintable():
            raise StoreError(
                f"a token name is at most {TOKEN_NAME_LIMIT} printable characters, "
                f"not {name[:TOKEN_NAME_LIMIT]!r}…"
            )
        if lifetime is not None and lifetime <= timedelta(0):
            raise StoreError(f"a token's lifetime must be positive, not {lifetime}")
        token = _new_token()
        now = _now()
        expires = now + lifetime if lifetime is not None else None
        with self._write() as conn:
            if conn.scalar(sa.select(users.c.id).where(users.c.id == user_id)) is None:
                raise NotFound(f"no user with id {user_id}")
            result = conn.execute(
                sa.insert(tokens).values(
                    user_id=user_id,
                    token_hash=hash_token(token),
                    created_at=now,
                    name=name,
                    expires_at=expires,
                )
            )
        return TokenRecord(_new_id(result), name, now, expires, None), token

    def list_tokens(self, user_id: int) -> list[TokenRecord]:
        """The user's API tokens, oldest first, expired ones too (never their secrets)."""
        query = (
            sa.select(
                tokens.c.id,
                tokens.c.name,
                tokens.c.created_at,
                tokens.c.expires_at,
                tokens.c.last_used_at,
            )
            .where(tokens.c.user_id == user_id)
            .order_by(tokens.c.id)
        )
        with self._read() as conn:
            return [TokenRecord(*row) for row in conn.execute(query)]

    def revoke_token(self, user_id: int, token_id: int) -> bool:
        """End the user's token ``token_id`` at once; whether it was there."""
        with self._write() as conn:
            deleted = conn.execute(
                sa.delete(tokens).where(tokens.c.id == token_id, tokens.c.user_id == user_id)
            )
        return deleted.rowcount > 0

    def user_by_token(self, token: str) -> User | None:
        """The active user an unexpired token of theirs stands for; notes its use (to the
        minute)."""
        if not token or len(token) > MAX_TOKEN:
            return None
        now = _now()
        query = (
            sa.select(
                users.c.id,
                users.c.name,
                users.c.role,
                tokens.c.id.label("token_id"),
                tokens.c.last_used_at,
            )
            .join(tokens, tokens.c.user_id == users.c.id)
            .where(
                tokens.c.token_hash == hash_token(token),
                users.c.suspended_at.is_(None),
                sa.or_(tokens.c.expires_at.is_(None), tokens.c.expires_at > now),
            )
        )
        with self._read() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        if row.last_used_at is None or now - row.last_used_at >= _USE_NOTED_EVERY:
            with self._write() as conn:
                conn.execute(
                    sa.update(tokens).where(tokens.c.id == row.token_id).values(last_used_at=now)
                )
        return _user(row)

    def user_by_name(self, name: str) -> User | None:
        query = sa.select(users.c.id, users.c.name, users.c.role).where(users.c.name == name)
        with self._read() as conn:
            row = conn.execute(query).first()
        return _user(row) if row is not None else None

    def list_users(self) -> list[UserRecord]:
        query = sa.select(
            users.c.name, users.c.role, users.c.suspended_at, users.c.created_at
        ).order_by(users.c.name)
        with self._read() as conn:
            return [_user_record(row) for row in conn.execute(query)]

    def set_suspended(self, name: str, suspended: bool) -> UserRecord:
        """Suspend the user (their tokens stop working, their browser sessions end) or make them
        active again (their tokens work again; sessions stay ended)."""
        with self._write() as conn:
            row = conn.execute(
                sa.update(users)
                .where(users.c.name == name)
                .values(
                    suspended_at=sa.func.coalesce(users.c.suspended_at, _now())
                    if suspended
                    else None
                )
                .returning(
                    users.c.id,
                    users.c.name,
                    users.c.role,
                    users.c.suspended_at,
                    users.c.created_at,
                )
            ).first()
            if row is None:
                raise NotFound(f"there is no user {name}")
            if suspended:
                conn.execute(
                    sa.delete(browser_sessions).where(browser_sessions.c.user_id == row.id)
                )
        return _user_record(row)

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

    def shared_apps(self, not_of: str) -> list[AppRecord]:
        """The apps that users other than ``not_of`` share with every signed-in user or everyone
        (``authenticated``, ``public``), by owner, workspace and slug."""
        with self._read() as conn:
            return self._apps(conn, None, None, users.c.name != not_of, apps.c.share != "owner")

    def shared_ports(
        self, owner: str | None = None, *, not_of: str | None = None
    ) -> list[SharedPort]:
        """The shared ports of ``owner``'s workspaces (None: everyone's), leaving out those of
        ``not_of``; by owner, workspace, agent and port."""
        query = (
            sa.select(
                users.c.name,
                workspaces.c.name,
                port_shares.c.agent_name,
                port_shares.c.port,
                port_shares.c.share,
            )
            .select_from(
                port_shares.join(workspaces, workspaces.c.id == port_shares.c.workspace_id).join(
                    users, users.c.id == workspaces.c.owner_id
                )
            )
            .where(*self._filters(owner, None))
            .order_by(users.c.name, workspaces.c.name, port_shares.c.agent_name, port_shares.c.port)
        )
        if not_of is not None:
            query = query.where(users.c.name != not_of)
        with self._read() as conn:
            return [SharedPort(*row) for row in conn.execute(query)]

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
            sa.select(
                agents.c.workspace_id,
                agents.c.name,
                agents.c.connection_timeout,
            )
            .select_from(agents.join(owned, workspaces.c.id == agents.c.workspace_id))
            .where(*filters)
            .order_by(agents.c.name)
        )
        by_workspace: dict[int, list[AgentSpec]] = {row.id: [] for row in rows}
        for agent in agent_rows:
            by_workspace[agent.workspace_id].append(AgentSpec(agent.name, agent.connection_timeout))
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

    def _apps(
        self,
        conn: Connection,
        owner: str | None,
        name: str | None,
        *also: sa.ColumnElement[bool],
    ) -> list[AppRecord]:
        latest_reason = (
            sa.select(health_transitions.c.reason)
            .where(health_transitions.c.app_id == apps.c.id)
            .order_by(health_transitions.c.at.desc(), health_transitions.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        rows = conn.execute(
            sa.select(
                *app_columns(),
                apps.c.health,
                apps.c.health_changed_at,
                latest_reason.label("health_reason"),
                agents.c.name.label("agent"),
                agents.c.state.label("agent_state"),
                agents.c.state_changed_at.label("agent_state_changed_at"),
                agents.c.connection_timeout,
                workspaces.c.name.label("workspace"),
                users.c.name.label("owner"),
            )
            .select_from(APPS_WITH_OWNERS)
            .where(*self._filters(owner, name), *also)
            .order_by(users.c.name, workspaces.c.name, apps.c.slug)
        )
        now = _now()
        records = []
        for row in rows:
            spec = app_spec(row, row.agent)
            records.append(
                AppRecord(
                    **{field: getattr(spec, field) for field in APP_SPEC_FIELDS},
                    workspace=row.workspace,
                    owner=row.owner,
                    health=row.health,
                    health_changed_at=row.health_changed_at,
                    agent_state=agent_state(
                        row.agent_state, row.agent_state_changed_at, row.connection_timeout, now
                    ),
                    agent_state_changed_at=row.agent_state_changed_at,
                    health_reason=row.health_reason or "",
                )
            )
        return records

    # --------------------------------------------------------------------- health

    @staticmethod
    def _record_health(
        conn: Connection, changes: Sequence[tuple[int, str, str, datetime]]
    ) -> list[HealthEvent]:
        """Store changes of health — (app id, health, reason, time) — with their history, in
        the caller's transaction; a change for an app that is gone meanwhile is dropped. Answers
        the events for the changes kept."""
        known = {
            row.id: row
            for row in conn.execute(
                sa.select(
                    apps.c.id,
                    apps.c.slug,
                    apps.c.health,
                    workspaces.c.name.label("workspace"),
                    users.c.name.label("owner"),
                )
                .select_from(APPS_WITH_OWNERS)
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
        previous = {i: known[i].health for i, *_ in kept}
        events = []
        for i, h, r, at in kept:  # several changes of one app in a batch follow each other
            app = known[i]
            events.append(HealthEvent(app.owner, app.workspace, app.slug, h, r, at, previous[i]))
            previous[i] = h
        return events

    def app_health(
        self, owner: str, workspace: str, slug: str, limit: int = 20
    ) -> tuple[AppRecord, list[HealthEvent]] | None:
        """An app with its latest changes of health, newest first, read from one snapshot so
        that they agree; None when there is no such app."""
        with self._read(snapshot=True) as conn:
            app = next((a for a in self._apps(conn, owner, workspace) if a.slug == slug), None)
            if app is None:
                return None
            rows = conn.execute(
                sa.select(
                    health_transitions.c.health,
                    health_transitions.c.reason,
                    health_transitions.c.at,
                )
                .select_from(health_transitions.join(APPS_WITH_OWNERS))
                .where(users.c.name == owner, workspaces.c.name == workspace, apps.c.slug == slug)
                .order_by(health_transitions.c.at.desc(), health_transitions.c.id.desc())
                .limit(limit)
            )
            return app, [HealthEvent(owner, workspace, slug, *row) for row in rows]

    # --------------------------------------------------------------------- workspaces

    def apply(
        self,
        owner: str,
        name: str,
        expected_version: int,
        desired: DesiredState,
        limits: MemberLimits = DEFAULT_LIMITS,
    ) -> ApplyResult:
        """Make ``owner``'s workspace ``name`` hold exactly ``desired``, in one transaction.

        ``expected_version`` is the version the caller planned against: 0 for a workspace that
        must not exist yet (it is created at version 1). When the stored version differs, raise
        VersionConflict. An apply that changes nothing leaves everything, the version included.
        One that would take ``owner`` past ``limits`` raises LimitExceeded and writes nothing."""
        check_name(name, "workspace")
        if expected_version < 0:
            raise StoreError(f"expected version {expected_version} is negative")
        applying.check_desired(desired)
        address = f"{owner}/{name}"
        breach = apply_breach(limits, address, desired)
        if breach is not None:
            raise LimitExceeded(breach.message)
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
                applying.check_workspace_count(conn, owner, owner_id, limits)
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
                changes = applying.diff({}, {}, desired, now)
            else:
                if row.version != expected_version:
                    raise _conflict(address, row.version, expected_version)
                workspace_id = row.id
                changes = applying.diff(*applying.read_current(conn, workspace_id), desired, now)
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
            applying.delete_rows(conn, workspace_id, changes)
            agent_ids = applying.write_agents(conn, workspace_id, changes, now)
            applying.update_apps(conn, changes)
            applying.insert_apps(conn, workspace_id, agent_ids, changes)
        return ApplyResult(
            version=version,
            created=tuple(changes.created),
            updated=tuple(changes.updated),
            replaced=tuple(changes.replaced),
            deleted=tuple(changes.deleted),
        )

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

    # --------------------------------------------------------------------- agents

    def issue_agent_token(self, owner: str, workspace: str, agent: str) -> str:
        """A new token for agent ``agent`` of ``owner``'s workspace ``workspace``, stored only as
        its hash; the agent's previous token ends with it. NotFound naming what is missing."""
        token = AGENT_TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._write() as conn:
            workspace_id = _locked_workspace(conn, owner, workspace)
            updated = conn.execute(
                sa.update(agents)
                .where(agents.c.workspace_id == workspace_id, agents.c.name == agent)
                .values(token_hash=hash_token(token))
            )
            if updated.rowcount != 1:
                raise NotFound(f"workspace {owner}/{workspace} has no agent {agent}")
        return token

    def agent_by_token(self, token: str) -> AgentIdentity | None:
        """The agent whose current token this is; None for any other text. The same work for
        every input: a text that cannot be an agent token is refused without a query, any other
        is hashed and looked up once, by its hash's index."""
        if (
            not isinstance(token, str)
            or len(token) > MAX_TOKEN
            or not token.startswith(AGENT_TOKEN_PREFIX)
        ):
            return None
        query = (
            sa.select(
                agents.c.id,
                users.c.name.label("owner"),
                workspaces.c.name.label("workspace"),
                agents.c.name,
            )
            .select_from(_AGENTS_WITH_OWNERS)
            .where(agents.c.token_hash == hash_token(token))
        )
        with self._read() as conn:
            row = conn.execute(query).first()
        return AgentIdentity(row.id, row.owner, row.workspace, row.name) if row else None

    def agent_token_hashes(self, agent_ids: Collection[int]) -> dict[int, str]:
        """The current token hash of each of ``agent_ids`` that still exists and has a token:
        a connection authenticated with another token, or for an agent missing here, has
        ended."""
        wanted = sorted(set(agent_ids))
        found: dict[int, str] = {}
        with self._read() as conn:
            for start in range(0, len(wanted), _ID_CHUNK):
                rows = conn.execute(
                    sa.select(agents.c.id, agents.c.token_hash).where(
                        agents.c.id.in_(wanted[start : start + _ID_CHUNK]),
                        agents.c.token_hash.is_not(None),
                    )
                )
                found.update((row.id, row.token_hash) for row in rows)
        return found

    def agent_connected(
        self,
        agent_id: int,
        server: str,
        version: str,
        os: str,
        arch: str,
        hostname: str,
        at: datetime,
        ssh_host_key: str = "",
    ) -> AgentEvent | None:
        """The agent connected at ``at`` to the server process ``server`` (which now holds its
        connection), saying this of itself (an empty ``ssh_host_key``: it has none). None when
        there is no such agent (any more)."""
        with self._write() as conn:
            updated = conn.execute(
                sa.update(agents)
                .where(agents.c.id == agent_id)
                .values(
                    state=AGENT_CONNECTED,
                    state_changed_at=at,
                    server=server,
                    version=version,
                    os=os,
                    arch=arch,
                    hostname=hostname,
                    ssh_host_key=ssh_host_key or None,
                )
            )
            if updated.rowcount != 1:
                return None
            return self._agent_event(conn, agent_id, AGENT_CONNECTED, at)

    def agent_disconnected(self, agent_id: int, server: str, at: datetime) -> AgentEvent | None:
        """The agent's connection to server process ``server`` ended at ``at``: it is
        disconnected, held by no server, with no listening ports; only while ``server`` still
        holds it (a newer connection, to another process, may have replaced it). None when
        nothing changed."""
        with self._write() as conn:
            updated = conn.execute(
                sa.update(agents)
                .where(agents.c.id == agent_id, agents.c.server == server)
                .values(state=AGENT_DISCONNECTED, state_changed_at=at, server=None, ports=[])
            )
            if updated.rowcount != 1:
                return None
            return self._agent_event(conn, agent_id, AGENT_DISCONNECTED, at)

    def agent_server(self, agent_id: int) -> str | None:
        """The server process holding the agent's connection now, None when none does."""
        with self._read() as conn:
            return conn.execute(
                sa.select(agents.c.server).where(
                    agents.c.id == agent_id, agents.c.state == AGENT_CONNECTED
                )
            ).scalar()

    def agent_servers(self) -> set[str]:
        """Every server process that holds an agent's connection, as the registry has it."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(agents.c.server)
                .where(agents.c.state == AGENT_CONNECTED, agents.c.server.is_not(None))
                .distinct()
            )
            return {row.server for row in rows}

    def release_agents(self, server: str, at: datetime) -> list[AgentEvent]:
        """Server process ``server`` is gone (it died without saying so): the agents it held are
        disconnected from ``at``, as ``agent_disconnected`` leaves them."""
        with self._write() as conn:
            held = [
                row.id
                for row in conn.execute(
                    sa.select(agents.c.id).where(
                        agents.c.server == server, agents.c.state == AGENT_CONNECTED
                    )
                )
            ]
            if not held:
                return []
            conn.execute(
                sa.update(agents)
                .where(agents.c.id.in_(held), agents.c.server == server)
                .values(state=AGENT_DISCONNECTED, state_changed_at=at, server=None, ports=[])
            )
            return [self._agent_event(conn, agent, AGENT_DISCONNECTED, at) for agent in held]

    @staticmethod
    def _agent_event(conn: Connection, agent_id: int, state: str, at: datetime) -> AgentEvent:
        row = conn.execute(
            sa.select(
                users.c.name.label("owner"),
                workspaces.c.name.label("workspace"),
                agents.c.name,
            )
            .select_from(_AGENTS_WITH_OWNERS)
            .where(agents.c.id == agent_id)
        ).one()
        return AgentEvent(row.owner, row.workspace, row.name, state, at)

    def set_agent_ports(self, agent_id: int, ports: Sequence[ListeningPort]) -> PortsEvent | None:
        """The ports the agent reports listening now (all of them, replacing the last list),
        one entry per port, by number; entries that are not TCP ports are dropped. Answers the
        change as an event; None when nothing changed (or the agent is gone)."""
        by_port: dict[int, str] = {}
        for entry in ports:
            port, process = entry.port, entry.process
            if (
                isinstance(port, int)
                and not isinstance(port, bool)
                and 1 <= port <= MAX_PORT
                and isinstance(process, str)
            ):
                by_port.setdefault(port, process)
        stored = [{"port": port, "process": by_port[port]} for port in sorted(by_port)]
        with self._write() as conn:
            row = conn.execute(
                sa.select(
                    agents.c.name,
                    agents.c.ports,
                    workspaces.c.name.label("workspace"),
                    users.c.name.label("owner"),
                )
                .select_from(_AGENTS_WITH_OWNERS)
                .where(agents.c.id == agent_id)
            ).one_or_none()
            if row is None or (row.ports or []) == stored:
                return None
            conn.execute(sa.update(agents).where(agents.c.id == agent_id).values(ports=stored))
        return PortsEvent(row.owner, row.workspace, row.name, _ports(stored))

    def agent_checks(self, agent_id: int) -> list[AgentCheck]:
        """The apps of the agent that have a healthcheck, by slug, with their last health."""
        query = (
            sa.select(
                apps.c.slug,
                apps.c.healthcheck_url,
                apps.c.healthcheck_interval,
                apps.c.healthcheck_threshold,
                apps.c.health,
            )
            .where(apps.c.agent_id == agent_id, apps.c.healthcheck_url.is_not(None))
            .order_by(apps.c.slug)
        )
        with self._read() as conn:
            return [AgentCheck(*row) for row in conn.execute(query)]

    def agent_app_urls(self, agent_id: int) -> list[str]:
        """The URLs of the agent's apps (the ports behind them are not offered as listening
        ports)."""
        query = sa.select(apps.c.url).where(apps.c.agent_id == agent_id, apps.c.url.is_not(None))
        with self._read() as conn:
            return [row.url for row in conn.execute(query)]

    def record_agent_health(
        self, agent_id: int, changes: Sequence[tuple[str, str, str, datetime]]
    ) -> list[HealthEvent]:
        """Store changes of health — (slug, health, reason, time) — that agent ``agent_id``
        reports for its own apps, in one transaction. What an agent says is not trusted:
        a slug that is not one of its apps with a healthcheck (another agent's, or unknown) and
        a state other than initializing, healthy and unhealthy are ignored."""
        wanted = [
            (slug, health, reason, at)
            for slug, health, reason, at in changes
            if health in AGENT_HEALTH_STATES
            and isinstance(slug, str)
            and isinstance(reason, str)
            and isinstance(at, datetime)
            and at.tzinfo is not None
        ]
        if not wanted:
            return []
        with self._write() as conn:
            ids = {
                row.slug: row.id
                for row in conn.execute(
                    sa.select(apps.c.id, apps.c.slug).where(
                        apps.c.agent_id == agent_id, apps.c.healthcheck_url.is_not(None)
                    )
                )
            }
            mapped = [(ids[slug], h, r, at) for slug, h, r, at in wanted if slug in ids]
            if not mapped:
                return []
            return self._record_health(conn, mapped)

    def list_agents(
        self, owner: str | None = None, workspace: str | None = None
    ) -> list[AgentRecord]:
        """The agents of ``owner``'s workspaces (None: everyone's), only those of the workspaces
        named ``workspace`` if given; by owner, workspace and name. An agent still connecting
        after its connection timeout reads as ``timeout``."""
        query = (
            sa.select(
                users.c.name.label("owner"),
                workspaces.c.name.label("workspace"),
                agents.c.name,
                agents.c.state,
                agents.c.state_changed_at,
                agents.c.connection_timeout,
                agents.c.version,
                agents.c.os,
                agents.c.arch,
                agents.c.hostname,
                agents.c.ports,
                agents.c.ssh_host_key,
            )
            .select_from(_AGENTS_WITH_OWNERS)
            .where(*self._filters(owner, workspace))
            .order_by(users.c.name, workspaces.c.name, agents.c.name)
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
        now = _now()
        return [
            AgentRecord(
                owner=row.owner,
                workspace=row.workspace,
                name=row.name,
                state=agent_state(row.state, row.state_changed_at, row.connection_timeout, now),
                state_changed_at=row.state_changed_at,
                version=row.version,
                os=row.os,
                arch=row.arch,
                hostname=row.hostname,
                ports=_ports(row.ports),
                ssh_host_key=row.ssh_host_key,
            )
            for row in rows
        ]

    # --------------------------------------------------------------------- app router

    def app_route(self, owner: str, workspace: str, slug: str) -> AppRoute | None:
        """Where the app router sends an app's requests; None when there is no such app, or it
        is not served by templater (a command, or an external URL)."""
        query = (
            sa.select(
                agents.c.name.label("agent"),
                agents.c.id.label("agent_id"),
                agents.c.state.label("agent_state"),
                agents.c.state_changed_at.label("agent_since"),
                apps.c.url,
                apps.c.share,
                apps.c.subdomain_label,
            )
            .select_from(APPS_WITH_OWNERS)
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
            url=row.url,
            share=row.share,
            subdomain=row.subdomain_label is not None,
            agent_id=row.agent_id,
            agent_state=row.agent_state,
            agent_since=row.agent_since,
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
            sa.select(
                port_shares.c.share,
                agents.c.id,
                agents.c.state,
                agents.c.state_changed_at,
            )
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
        return PortRoute(
            owner,
            workspace,
            agent,
            port,
            row.share or "owner",
            row.id,
            row.state,
            row.state_changed_at,
        )

    def agent_routes(self, owner: str, workspace: str) -> tuple[AgentRoute, ...]:
        """The agents of ``owner``'s ``workspace``, by name, as the router opens SSH streams to
        them; none when there is no such workspace."""
        query = (
            sa.select(agents.c.name, agents.c.id, agents.c.state, agents.c.state_changed_at)
            .select_from(_AGENTS_WITH_OWNERS)
            .where(users.c.name == owner, workspaces.c.name == workspace)
            .order_by(agents.c.name)
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
        return tuple(
            AgentRoute(owner, workspace, row.name, row.id, row.state, row.state_changed_at)
            for row in rows
        )

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
            workspace_id = _locked_workspace(conn, owner, workspace)
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

    # --------------------------------------------------------------------- browser sessions

    def create_session(self, user_id: int, lifetime: timedelta) -> int:
        """A new browser session for the user, until ``lifetime`` from now; its id. Deletes the
        sessions that expired meanwhile."""
        if lifetime <= timedelta(0):
            raise StoreError(f"a session's lifetime must be positive, not {lifetime}")
        now = _now()
        with self._write() as conn:
            if conn.scalar(sa.select(users.c.id).where(users.c.id == user_id)) is None:
                raise NotFound(f"no user with id {user_id}")
            conn.execute(sa.delete(browser_sessions).where(browser_sessions.c.expires_at <= now))
            result = conn.execute(
                sa.insert(browser_sessions).values(
                    user_id=user_id, created_at=now, expires_at=now + lifetime
                )
            )
        return _new_id(result)

    def user_by_session(self, session_id: int) -> User | None:
        """The active user of a session that has not ended or expired."""
        query = (
            sa.select(users.c.id, users.c.name, users.c.role)
            .join(browser_sessions, browser_sessions.c.user_id == users.c.id)
            .where(
                browser_sessions.c.id == session_id,
                browser_sessions.c.expires_at > _now(),
                users.c.suspended_at.is_(None),
            )
        )
        with self._read() as conn:
            row = conn.execute(query).first()
        return _user(row) if row is not None else None

    def end_session(self, session_id: int) -> None:
        """Sign a browser out: the session, and every app host's cookie from it, stop working."""
        with self._write() as conn:
            conn.execute(sa.delete(browser_sessions).where(browser_sessions.c.id == session_id))

    # --------------------------------------------------------------------- sign-in tickets

    def create_ticket(self, session_id: int, host: str, lifetime: timedelta) -> str:
        """A new ticket that carries a browser session once to the app host ``host`` (compared
        without regard to case), until ``lifetime`` from now; stored only as its hash. Deletes
        the tickets that expired meanwhile."""
        if lifetime <= timedelta(0):
            raise StoreError(f"a ticket's lifetime must be positive, not {lifetime}")
        ticket = secrets.token_urlsafe(32)
        now = _now()
        with self._write() as conn:
            found = sa.select(browser_sessions.c.id).where(browser_sessions.c.id == session_id)
            if conn.scalar(found) is None:
                raise NotFound(f"no session with id {session_id}")
            conn.execute(sa.delete(app_tickets).where(app_tickets.c.expires_at <= now))
            conn.execute(
                sa.insert(app_tickets).values(
                    ticket_hash=hash_token(ticket),
                    session_id=session_id,
                    host=host.lower(),
                    expires_at=now + lifetime,
                )
            )
        return ticket

    def redeem_ticket(self, ticket: str, host: str) -> BrowserSession | None:
        """The session a ticket carries, on the app host it was made for. A ticket is used up as
        it is read (deleted in the same transaction: of two redeems at once, one gets nothing),
        also when it is presented on another host or has expired. None for an unknown, used or
        expired ticket, another host, or a session that has ended."""
        if not ticket or len(ticket) > MAX_TOKEN:
            return None
        with self._write() as conn:
            used = conn.execute(
                sa.delete(app_tickets)
                .where(app_tickets.c.ticket_hash == hash_token(ticket))
                .returning(app_tickets.c.session_id, app_tickets.c.host, app_tickets.c.expires_at)
            ).first()
            if used is None or used.host != host.lower() or used.expires_at <= _now():
                return None
        user = self.user_by_session(used.session_id)
        return BrowserSession(used.session_id, user) if user is not None else None

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
