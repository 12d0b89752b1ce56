"""The registry store against a real SQLite file and, when TEMPLATER_TEST_POSTGRES_URL is set
(e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``), against PostgreSQL too: each
PostgreSQL test gets a schema of its own, dropped afterwards."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa

from templater.model.limits import MemberLimits
from templater.model.records import (
    AgentCheck,
    AgentSpec,
    AppRoute,
    AppSpec,
    BrowserSession,
    DesiredState,
    Healthcheck,
    PortShare,
    WorkspaceState,
)
from templater.server.store import (
    SCHEMA_VERSION,
    TOKEN_PREFIX,
    LimitExceeded,
    NotFound,
    Store,
    StoreError,
    StoreUnavailable,
    VersionConflict,
    applying,
    repository,
    schema,
)

from .conftest import BACKENDS, postgres_schema

T = TypeVar("T")


@dataclass
class Database:
    """A database for one test: its URL, an engine of the test's own to look at the rows, and
    the files it lives in (SQLite)."""

    kind: str
    url: str
    engine: sa.Engine
    files: list[Path]

    def open(self) -> Store:
        opened = Store(self.url)
        self._opened.append(opened)
        return opened

    def rows(self, table: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(sa.text(f"SELECT * FROM {table}"))]

    def execute(self, sql: str, **params: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text(sql), params)

    def __post_init__(self) -> None:
        self._opened: list[Store] = []

    def close(self) -> None:
        for opened in self._opened:
            opened.close()
        self.engine.dispose()


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        path = tmp_path / "templater.db"
        url = f"sqlite:///{path}"
        found = Database("sqlite", url, sa.create_engine(url), [path])
        yield found
        found.close()
        return
    with postgres_schema() as url:
        found = Database("postgresql", url, sa.create_engine(url), [])
        try:
            yield found
        finally:
            found.close()


@pytest.fixture
def store(database: Database) -> Store:
    opened = database.open()
    opened.migrate()
    return opened


@pytest.fixture
def alice(store: Store) -> str:
    store.create_user("alice", "member")
    return "alice"


def app(slug: str, agent: str = "main", **changes: Any) -> AppSpec:
    spec = AppSpec(
        slug=slug,
        agent=agent,
        url=f"http://localhost:8080/{slug}",
        command=None,
        display_name=slug.title(),
        icon="/icon/code.svg",
        external=False,
        subdomain=True,
        share="owner",
        order=None,
        hidden=False,
        open_in=None,
        group=None,
        tooltip=None,
        healthcheck=None,
        subdomain_label=f"{slug}--dev--alice",
        access_url=f"http://{slug}--dev--alice.apps.localhost:7080/",
    )
    return replace(spec, **changes)


CHECK = Healthcheck("http://localhost:8080/healthz", 5, 3)
MAIN = AgentSpec("main")


def desired(
    *apps: AppSpec, agents: tuple[AgentSpec, ...] = (MAIN,), source: dict[str, str] | None = None
) -> DesiredState:
    return DesiredState(
        source=source or {"main.tf": 'resource "coder_agent" "main" {}\n'},
        variables={"image": "codercom/code-server"},
        agents=agents,
        apps=apps,
    )


def specs(state: WorkspaceState | None) -> dict[str, AppSpec]:
    assert state is not None
    return {record.slug: record.spec() for record in state.apps}


def health(state: WorkspaceState | None) -> dict[str, str]:
    assert state is not None
    return {record.slug: record.health for record in state.apps}


# ----------------------------------------------------------------------------- schema


def test_migrate_is_idempotent(database: Database) -> None:
    store = database.open()
    assert store.migrate() == SCHEMA_VERSION
    store.create_user("alice", "admin")
    assert store.migrate() == SCHEMA_VERSION
    assert database.open().migrate() == SCHEMA_VERSION
    assert store.user_by_name("alice") is not None
    versions = [row["version"] for row in database.rows("schema_version")]
    assert versions == list(range(1, SCHEMA_VERSION + 1))


def test_concurrent_migrations_wait_for_each_other(database: Database) -> None:
    stores = [database.open() for _ in range(4)]
    results: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def migrate(store: Store) -> None:
        barrier.wait()
        try:
            results.append(store.migrate())
        except BaseException as problem:
            errors.append(problem)

    threads = [threading.Thread(target=migrate, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and results == [SCHEMA_VERSION] * len(stores)
    assert len(database.rows("schema_version")) == SCHEMA_VERSION


def test_migrate_refuses_a_newer_schema(database: Database, store: Store) -> None:
    database.execute(
        "INSERT INTO schema_version (version, applied_at) VALUES (:v, CURRENT_TIMESTAMP)",
        v=SCHEMA_VERSION + 1,
    )
    newer = rf"schema is version {SCHEMA_VERSION + 1}, newer than this templater knows"
    with pytest.raises(StoreError, match=newer):
        database.open().migrate()


def _old_database(database: Database, monkeypatch: pytest.MonkeyPatch, version: int) -> None:
    """The database at schema ``version`` (its steps only, as templater of that version made it)
    holding alice's workspace dev: agent main at 10.0.0.7 and app code-server with a
    healthcheck, healthy, and its change of health."""
    monkeypatch.setattr(repository, "SCHEMA_VERSION", version)  # where Store.migrate reads it
    assert database.open().migrate() == version
    monkeypatch.undo()
    assert [row["version"] for row in database.rows("schema_version")] == list(
        range(1, version + 1)
    )
    v1 = schema._version_1().tables  # the tables as steps 1 to 3 left them
    at = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

    def new_id(result: sa.CursorResult[Any]) -> int:
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    with database.engine.begin() as conn:
        user = new_id(
            conn.execute(sa.insert(v1["users"]).values(name="alice", role="member", created_at=at))
        )
        workspace = new_id(
            conn.execute(
                sa.insert(v1["workspaces"]).values(
                    owner_id=user,
                    name="dev",
                    version=1,
                    source={"main.tf": "# old"},
                    variables={},
                    created_at=at,
                    updated_at=at,
                )
            )
        )
        agents = sa.Table("agents", sa.MetaData(), autoload_with=conn)
        values: dict[str, Any] = {"workspace_id": workspace, "name": "main"}
        if "address" in agents.c:  # until version 5
            values["address"] = "10.0.0.7"
        if "state_changed_at" in agents.c:  # from version 4 an agent is connecting since applied
            values["state_changed_at"] = datetime.now(UTC)
        agent = new_id(conn.execute(sa.insert(agents).values(**values)))
        values = schema.app_values(app("code-server", healthcheck=CHECK), "healthy", at)
        conn.execute(sa.insert(v1["apps"]).values(workspace_id=workspace, agent_id=agent, **values))


@pytest.mark.parametrize("version", [2, 3, 4, 5])
def test_upgrade_from_an_older_schema_keeps_everything(
    database: Database, monkeypatch: pytest.MonkeyPatch, version: int
) -> None:
    _old_database(database, monkeypatch, version)
    assert ("port_shares" in sa.inspect(database.engine).get_table_names()) == (version >= 3)

    before = datetime.now(UTC)
    upgraded = database.open()
    assert upgraded.migrate() == SCHEMA_VERSION == 8
    after = datetime.now(UTC)
    assert [row["version"] for row in database.rows("schema_version")] == [1, 2, 3, 4, 5, 6, 7, 8]
    state = upgraded.get_workspace("alice", "dev")
    assert state is not None and state.version == 1 and state.source == {"main.tf": "# old"}
    assert state.agents == (AgentSpec("main", 120),)
    [code] = state.apps
    assert (code.slug, code.health, code.healthcheck) == ("code-server", "healthy", CHECK)
    # the agent was there before agents had states: it is connecting, since the migration
    [agent] = upgraded.list_agents()
    assert (agent.owner, agent.workspace, agent.name, agent.state) == (
        "alice",
        "dev",
        "main",
        "connecting",
    )
    assert before - timedelta(seconds=1) <= agent.state_changed_at <= after
    assert (agent.version, agent.os, agent.arch, agent.hostname, agent.ports) == (
        None,
        None,
        None,
        None,
        (),
    )
    assert agent.ssh_host_key is None  # until the agent says hello
    assert (code.agent_state, code.agent_state_changed_at) == ("connecting", agent.state_changed_at)
    [row] = database.rows("agents")
    assert (row["token_hash"], row["server"], row["connection_timeout"]) == (None, None, 120)

    # and everything works on it
    token = upgraded.issue_agent_token("alice", "dev", "main")
    identity = upgraded.agent_by_token(token)
    assert identity is not None and identity.agent == "main"
    assert upgraded.agent_checks(identity.agent_id) == [
        AgentCheck("code-server", CHECK.url, CHECK.interval, CHECK.threshold, "healthy")
    ]
    assert upgraded.share_port("alice", "dev", "main", 8080, "public") == PortShare(
        "main", 8080, "public"
    )
    user = upgraded.user_by_name("alice")
    assert user is not None
    session = BrowserSession(upgraded.create_session(user.id, timedelta(hours=1)), user)
    ticket = upgraded.create_ticket(session.id, "app.example.com", timedelta(minutes=1))
    assert upgraded.redeem_ticket(ticket, "app.example.com") == session
    assert len(upgraded.secret("sessions")) == 32
    kept = desired(
        app("code-server", healthcheck=CHECK, display_name="VS Code"),
        agents=(AgentSpec("main"),),
    )
    assert upgraded.apply("alice", "dev", 1, kept).updated == ("app.code-server",)
    assert upgraded.agent_by_token(token) == identity
    assert [app.health for app in upgraded.list_apps("alice")] == ["healthy"]


Shape = dict[str, tuple[dict[str, bool], dict[str, bool]]]


def _shape(engine: sa.Engine) -> Shape:
    """Each table's columns (whether nullable) and indexes (whether unique)."""
    inspector = sa.inspect(engine)
    return {
        table: (
            {c["name"]: c["nullable"] for c in inspector.get_columns(table)},
            {str(i["name"]): bool(i["unique"]) for i in inspector.get_indexes(table)},
        )
        for table in inspector.get_table_names()
    }


@pytest.mark.parametrize("version", [3, 5])
def test_the_migrated_tables_are_the_ones_the_code_describes(
    database: Database, monkeypatch: pytest.MonkeyPatch, version: int
) -> None:
    _old_database(database, monkeypatch, version)
    database.open().migrate()
    migrated = _shape(database.engine)
    with postgres_schema() if database.kind == "postgresql" else _fresh_sqlite(database) as url:
        engine = sa.create_engine(url)
        schema.metadata.create_all(engine)  # the tables as schema.py defines them now
        described = _shape(engine)
        engine.dispose()
    assert migrated == described
    columns, indexes = migrated["agents"]
    assert indexes["ix_agents_token_hash"] is True
    assert {name for name, nullable in columns.items() if not nullable} == {
        "id",
        "workspace_id",
        "name",
        "state",
        "state_changed_at",
        "connection_timeout",
        "ports",
    }


@contextmanager
def _fresh_sqlite(database: Database) -> Iterator[str]:
    yield f"sqlite:///{database.files[0].parent / 'fresh.db'}"


def test_the_agent_state_check_holds_on_an_upgraded_database(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _old_database(database, monkeypatch, 3)
    database.open().migrate()
    with pytest.raises(sa.exc.IntegrityError):
        database.execute("UPDATE agents SET state = 'timeout'")


def test_migrate_refuses_a_foreign_database(database: Database) -> None:
    database.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    with pytest.raises(StoreError, match="has tables users but no schema_version table"):
        database.open().migrate()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "not a database URL"),
        ("mysql://root@localhost/db", "unsupported database"),
        ("sqlite://", "SQLite needs a database file"),
        ("sqlite:///:memory:", "SQLite needs a database file"),
    ],
)
def test_unusable_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        Store(url)


def test_plain_postgresql_urls_use_psycopg() -> None:
    for url in ("postgresql://u@127.0.0.1/db", "postgres://u@127.0.0.1/db"):
        store = Store(url)
        assert store._engine.dialect.driver == "psycopg"
        store.close()


def test_an_unreachable_postgresql_is_a_store_error() -> None:
    store = Store("postgresql://postgres@127.0.0.1:1/postgres?connect_timeout=5")
    with pytest.raises(StoreUnavailable, match=r"database unavailable: .*127\.0\.0\.1"):
        store.migrate()
    store.close()


def test_an_unreachable_database_is_a_store_error(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/missing/dir/templater.db")
    with pytest.raises(StoreError, match="database unavailable: unable to open database file"):
        store.migrate()
    store.close()


def test_sqlite_uses_wal_and_foreign_keys(database: Database, store: Store) -> None:
    if database.kind != "sqlite":
        pytest.skip("SQLite only")
    with store._engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


# ----------------------------------------------------------------------------- users and tokens


def test_create_user_and_look_it_up_by_token_and_name(store: Store) -> None:
    assert not store.has_users()
    user, token = store.create_user("alice", "admin")
    assert (user.name, user.role, user.is_admin) == ("alice", "admin", True)
    assert token.startswith(TOKEN_PREFIX) and len(token) > len(TOKEN_PREFIX) + 40
    assert store.has_users()
    assert store.user_by_token(token) == user
    assert store.user_by_name("alice") == user
    assert store.user_by_name("bob") is None
    assert store.user_by_token(token + "x") is None
    assert store.user_by_token("") is None

    bob, bob_token = store.create_user("bob", "member")
    assert bob.id != user.id and not bob.is_admin
    assert store.user_by_token(bob_token) == bob
    _, second = store.add_token(bob.id)
    assert second != bob_token
    assert store.user_by_token(second) == bob == store.user_by_token(bob_token)
    assert [(found.name, found.role, found.status) for found in store.list_users()] == [
        ("alice", "admin", "active"),
        ("bob", "member", "active"),
    ]


def test_duplicate_user_and_bad_role_are_refused(store: Store) -> None:
    store.create_user("alice", "member")
    with pytest.raises(StoreError, match=r"^user alice already exists$"):
        store.create_user("alice", "admin")
    with pytest.raises(StoreError, match="role 'root' is invalid; use one of admin, member"):
        store.create_user("bob", "root")
    with pytest.raises(NotFound, match="no user with id 999"):
        store.add_token(999)
    with pytest.raises(StoreError, match="user name 'me' is reserved"):
        store.create_user("me", "member")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "user name is empty"),
        ("a" * 33, "is 33 characters long; at most 32 are allowed"),
        ("Alice", "invalid: use lower-case letters, digits and single hyphens"),
        ("a--b", "invalid"),
        ("-ab", "invalid"),
        ("ab-", "invalid"),
        ("a_b", "invalid"),
        ("a.b", "invalid"),
    ],
)
def test_user_names_are_validated(store: Store, name: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        store.create_user(name, "member")
    assert not store.has_users()


def test_good_user_names(store: Store) -> None:
    for name in ("a", "a1", "1-2-3", "x" * 32):
        store.create_user(name, "member")


def test_tokens_are_stored_only_as_hashes(database: Database, store: Store) -> None:
    user, token = store.create_user("alice", "admin")
    _, other = store.add_token(user.id)
    [first_row, second_row] = database.rows("tokens")
    assert len(first_row["token_hash"]) == 64
    assert {first_row["token_hash"], second_row["token_hash"]} == {
        repository.hash_token(token),
        repository.hash_token(other),
    }
    secret = token.removeprefix(TOKEN_PREFIX)
    for table in sa.inspect(database.engine).get_table_names():
        dumped = repr(database.rows(table))
        assert secret not in dumped and other.removeprefix(TOKEN_PREFIX) not in dumped
    for path in database.files:
        for sibling in path.parent.glob(path.name + "*"):  # the database, -wal and -shm
            content = sibling.read_bytes()
            assert secret.encode() not in content
            assert other.removeprefix(TOKEN_PREFIX).encode() not in content


def test_concurrent_writers_wait_instead_of_failing(database: Database) -> None:
    database.open().migrate()
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def create(index: int) -> None:
        store = database.open()
        barrier.wait()
        try:
            for round_ in range(5):
                store.create_user(f"user-{index}-{round_}", "member")
        except BaseException as problem:
            errors.append(problem)

    threads = [threading.Thread(target=create, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(database.open().list_users()) == 40


# ----------------------------------------------------------------------------- apply


def test_apply_creates_a_workspace_at_version_1(store: Store, alice: str) -> None:
    want = desired(app("code-server", healthcheck=CHECK), app("docs", external=True))
    result = store.apply(alice, "dev", 0, want)
    assert result.version == 1
    assert result.created == ("agent.main", "app.code-server", "app.docs")
    assert result.updated == result.replaced == result.deleted == ()

    state = store.get_workspace(alice, "dev")
    assert state is not None
    assert (state.name, state.owner, state.version) == ("dev", "alice", 1)
    assert state.source == want.source and state.variables == want.variables
    assert state.agents == (MAIN,)
    assert specs(state) == {spec.slug: spec for spec in want.apps}
    code, docs = state.apps
    assert (code.workspace, code.owner) == ("dev", "alice")
    assert code.health == "initializing" and code.health_changed_at is not None
    assert docs.health == "disabled" and docs.health_changed_at is None
    assert code.health_changed_at.utcoffset() is not None
    assert state.updated_at.utcoffset() is not None
    assert abs(time.time() - state.updated_at.timestamp()) < 60
    assert store.get_workspace(alice, "other") is None
    assert store.get_workspace("bob", "dev") is None


def test_reapplying_the_same_state_changes_nothing(store: Store, alice: str) -> None:
    want = desired(app("code-server", healthcheck=CHECK), app("docs"))
    store.apply(alice, "dev", 0, want)
    before = store.get_workspace(alice, "dev")
    result = store.apply(alice, "dev", 1, want)
    assert (result.version, result.created, result.updated, result.replaced, result.deleted) == (
        1,
        (),
        (),
        (),
        (),
    )
    assert store.get_workspace(alice, "dev") == before
    # the order of agents and apps in the request does not matter
    reordered = replace(want, apps=tuple(reversed(want.apps)))
    assert store.apply(alice, "dev", 1, reordered).version == 1


def test_apply_changes_the_fewest_rows(database: Database, store: Store, alice: str) -> None:
    store.apply(
        alice,
        "dev",
        0,
        desired(
            app("code-server", healthcheck=CHECK),
            app("jupyter", healthcheck=CHECK),
            app("moved", healthcheck=CHECK),
            app("gone"),
            app("checked"),
            app("untouched", healthcheck=CHECK),
            agents=(MAIN, AgentSpec("old"), AgentSpec("side")),
        ),
    )
    database.execute("UPDATE apps SET health = 'healthy'")
    ids_before = {row["slug"]: row["id"] for row in database.rows("apps")}
    before = {record.slug: record for record in store.list_apps(alice, "dev")}

    new_check = Healthcheck("http://localhost:8888/api", 10, 2)
    result = store.apply(
        alice,
        "dev",
        1,
        desired(
            app("code-server", healthcheck=CHECK, display_name="VS Code", order=1),
            app("jupyter", healthcheck=new_check),
            app("moved", agent="side", healthcheck=CHECK),
            app("checked", healthcheck=CHECK),
            app("untouched", healthcheck=CHECK),
            app("new"),
            agents=(MAIN, AgentSpec("side", 300), AgentSpec("extra")),
        ),
    )
    assert result.version == 2
    assert result.created == ("agent.extra", "app.new")
    assert result.updated == ("agent.side", "app.checked", "app.code-server", "app.jupyter")
    assert result.replaced == ("app.moved",)
    assert result.deleted == ("agent.old", "app.gone")

    state = store.get_workspace(alice, "dev")
    assert state is not None and state.version == 2
    assert {agent.name: agent.connection_timeout for agent in state.agents} == {
        "main": 120,
        "side": 300,
        "extra": 120,
    }
    after = {record.slug: record for record in state.apps}
    ids_after = {row["slug"]: row["id"] for row in database.rows("apps")}
    # updated in place: same row; health kept unless the healthcheck changed
    assert ids_after["code-server"] == ids_before["code-server"]
    assert after["code-server"].health == "healthy"
    assert after["code-server"].health_changed_at == before["code-server"].health_changed_at
    assert (after["code-server"].display_name, after["code-server"].order) == ("VS Code", 1)
    assert ids_after["jupyter"] == ids_before["jupyter"]
    assert after["jupyter"].health == "initializing" and after["jupyter"].healthcheck == new_check
    assert after["checked"].health == "initializing"
    assert (
        after["untouched"].health == "healthy" and ids_after["untouched"] == ids_before["untouched"]
    )
    # replaced: a new row, health reset
    assert after["moved"].agent == "side" and after["moved"].health == "initializing"
    assert ids_after["moved"] != ids_before["moved"]
    assert after["new"].health == "disabled"
    assert "gone" not in after
    assert len(database.rows("agents")) == 3

    # a healthcheck removed: disabled
    store.apply(alice, "dev", 2, desired(app("jupyter")))
    [jupyter] = store.list_apps(alice, "dev")
    assert (jupyter.health, jupyter.health_changed_at) == ("disabled", None)


def test_source_or_variables_alone_bump_the_version(store: Store, alice: str) -> None:
    store.apply(alice, "dev", 0, desired(app("code-server")))
    result = store.apply(
        alice, "dev", 1, desired(app("code-server"), source={"main.tf": "# edited"})
    )
    assert (result.version, result.created, result.updated) == (2, (), ())
    state = store.get_workspace(alice, "dev")
    assert state is not None and state.source == {"main.tf": "# edited"}
    changed = replace(desired(app("code-server"), source={"main.tf": "# edited"}), variables={})
    assert store.apply(alice, "dev", 2, changed).version == 3


def test_apply_to_an_empty_workspace_and_back(store: Store, alice: str) -> None:
    result = store.apply(alice, "dev", 0, desired(agents=()))
    assert (result.version, result.created) == (1, ())
    assert store.apply(alice, "dev", 1, desired(app("a"))).created == ("agent.main", "app.a")
    result = store.apply(alice, "dev", 2, desired(agents=()))
    assert result.deleted == ("agent.main", "app.a")
    state = store.get_workspace(alice, "dev")
    assert state is not None and state.agents == () and state.apps == ()


def test_apply_refuses_bad_requests(store: Store, alice: str) -> None:
    with pytest.raises(StoreError, match=r"^no user named bob$"):
        store.apply("bob", "dev", 0, desired())
    with pytest.raises(StoreError, match="app a belongs to agent other, which the workspace"):
        store.apply(alice, "dev", 0, desired(app("a", agent="other")))
    with pytest.raises(StoreError, match="app a appears more than once"):
        store.apply(alice, "dev", 0, desired(app("a"), app("a")))
    with pytest.raises(StoreError, match="agent main appears more than once"):
        store.apply(alice, "dev", 0, desired(agents=(MAIN, MAIN)))
    with pytest.raises(StoreError, match="share 'everyone'; use one of owner, authenticated"):
        store.apply(alice, "dev", 0, desired(app("a", share="everyone")))
    with pytest.raises(StoreError, match="workspace name 'Dev' is invalid"):
        store.apply(alice, "Dev", 0, desired())
    with pytest.raises(StoreError, match="expected version -1 is negative"):
        store.apply(alice, "dev", -1, desired())
    assert store.list_workspaces() == []


def test_stale_versions_conflict(store: Store, alice: str) -> None:
    with pytest.raises(
        VersionConflict, match=r"workspace alice/dev no longer exists \(planned against version 3\)"
    ):
        store.apply(alice, "dev", 3, desired())
    store.apply(alice, "dev", 0, desired(app("a")))
    with pytest.raises(
        VersionConflict,
        match=r"workspace alice/dev already exists \(now version 1, planned as a new workspace\)",
    ):
        store.apply(alice, "dev", 0, desired(app("b")))
    store.apply(alice, "dev", 1, desired(app("b")))
    message = (
        r"^workspace alice/dev changed since it was planned \(now version 2, planned against 1\); "
        r"plan again$"
    )
    with pytest.raises(VersionConflict, match=message):
        store.apply(alice, "dev", 1, desired(app("c")))
    with pytest.raises(VersionConflict, match=message):  # even when it would change nothing
        store.apply(alice, "dev", 1, desired(app("b")))
    assert set(specs(store.get_workspace(alice, "dev"))) == {"b"}


def test_workspaces_of_different_owners(store: Store, alice: str) -> None:
    store.create_user("bob", "member")
    store.apply(alice, "dev", 0, desired(app("a")))
    store.apply(alice, "prod", 0, desired(app("b"), app("c")))
    store.apply("bob", "dev", 0, desired(app("d")))
    assert [(w.owner, w.name) for w in store.list_workspaces()] == [
        ("alice", "dev"),
        ("alice", "prod"),
        ("bob", "dev"),
    ]
    assert [w.name for w in store.list_workspaces("alice")] == ["dev", "prod"]
    assert store.list_workspaces("carol") == []
    assert [(a.owner, a.workspace, a.slug) for a in store.list_apps()] == [
        ("alice", "dev", "a"),
        ("alice", "prod", "b"),
        ("alice", "prod", "c"),
        ("bob", "dev", "d"),
    ]
    assert [a.slug for a in store.list_apps("alice")] == ["a", "b", "c"]
    assert [a.slug for a in store.list_apps(None, "dev")] == ["a", "d"]
    assert [a.slug for a in store.list_apps("bob", "dev")] == ["d"]
    assert [a.slug for a in store.list_apps("alice", "prod")] == ["b", "c"]
    bob_dev = store.get_workspace("bob", "dev")
    assert bob_dev is not None and [a.slug for a in bob_dev.apps] == ["d"]


def _fail_after_some_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("injected failure")

    # deletes, agent changes and in-place app updates have run by the time apps are inserted
    monkeypatch.setattr(applying, "insert_apps", broken)


def test_a_failure_mid_apply_leaves_the_previous_state(
    database: Database, store: Store, alice: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.apply(
        alice,
        "dev",
        0,
        desired(app("a", healthcheck=CHECK), app("b"), app("c"), agents=(MAIN, AgentSpec("x"))),
    )
    database.execute("UPDATE apps SET health = 'healthy' WHERE slug = 'a'")
    before = store.get_workspace(alice, "dev")
    rows_before = {table: database.rows(table) for table in ("workspaces", "agents", "apps")}
    change = desired(
        app("a", healthcheck=CHECK, display_name="changed"),
        app("c", agent="y"),
        app("d"),
        agents=(AgentSpec("main"), AgentSpec("y")),
        source={"main.tf": "# new"},
    )
    _fail_after_some_writes(monkeypatch)
    with pytest.raises(RuntimeError, match="injected failure"):
        store.apply(alice, "dev", 1, change)
    assert store.get_workspace(alice, "dev") == before
    assert {table: database.rows(table) for table in rows_before} == rows_before

    # nothing stays locked, and a fresh workspace that fails is not created at all
    with pytest.raises(RuntimeError, match="injected failure"):
        store.apply(alice, "new", 0, desired(app("a")))
    assert store.get_workspace(alice, "new") is None
    monkeypatch.undo()
    assert store.apply(alice, "dev", 1, change).version == 2


def _race(
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    run: Callable[[Store, DesiredState], object],
    states: tuple[DesiredState, DesiredState],
) -> tuple[list[object], list[BaseException]]:
    """Run ``run`` with each state in its own thread and Store at once; the first to lock the
    workspace holds it a while, so that the other one surely waits for it."""
    real_diff = applying.diff

    def slow_diff(*args: Any) -> Any:
        time.sleep(0.3)
        return real_diff(*args)

    monkeypatch.setattr(applying, "diff", slow_diff)
    results: list[object] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def go(state: DesiredState) -> None:
        store = database.open()
        store.user_by_name("alice")  # connect before the start line
        barrier.wait()
        try:
            results.append(run(store, state))
        except BaseException as problem:
            errors.append(problem)

    threads = [threading.Thread(target=go, args=(state,)) for state in states]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def test_racing_applies_one_wins_the_other_conflicts(
    database: Database, store: Store, alice: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.apply(alice, "dev", 0, desired(app("base")))
    first = desired(*(app(f"first-{i}") for i in range(50)), source={"main.tf": "# first"})
    second = desired(
        *(app(f"second-{i}", agent="other") for i in range(50)),
        agents=(AgentSpec("other"),),
        source={"main.tf": "# second"},
    )
    results, errors = _race(
        database, monkeypatch, lambda s, state: s.apply(alice, "dev", 1, state), (first, second)
    )
    assert len(results) == 1 and len(errors) == 1, (results, errors)
    assert isinstance(errors[0], VersionConflict)
    assert "changed since it was planned (now version 2, planned against 1)" in str(errors[0])
    state = store.get_workspace(alice, "dev")
    assert state is not None and state.version == 2
    winner = first if state.source == first.source else second
    assert specs(state) == {spec.slug: spec for spec in winner.apps}
    assert state.agents == winner.agents


def test_racing_creations_one_wins_the_other_conflicts(
    database: Database, store: Store, alice: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = desired(*(app(f"first-{i}") for i in range(20)), source={"main.tf": "# first"})
    second = desired(*(app(f"second-{i}") for i in range(20)), source={"main.tf": "# second"})
    results, errors = _race(
        database, monkeypatch, lambda s, state: s.apply(alice, "dev", 0, state), (first, second)
    )
    assert len(results) == 1 and len(errors) == 1, (results, errors)
    assert isinstance(errors[0], VersionConflict)
    assert "alice/dev" in str(errors[0]) and str(errors[0]).endswith("plan again")
    state = store.get_workspace(alice, "dev")
    assert state is not None and state.version == 1
    winner = first if state.source == first.source else second
    assert specs(state) == {spec.slug: spec for spec in winner.apps}


def test_racing_apply_and_destroy(
    database: Database, store: Store, alice: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.apply(alice, "dev", 0, desired(app("base")))

    def run(s: Store, state: DesiredState) -> object:
        if not state.apps:
            return s.destroy(alice, "dev", 1)
        return s.apply(alice, "dev", 1, state)

    results, errors = _race(database, monkeypatch, run, (desired(app("new")), desired(agents=())))
    assert len(results) == 1 and len(errors) == 1, (results, errors)
    assert isinstance(errors[0], VersionConflict)
    state = store.get_workspace(alice, "dev")
    if results == [True]:
        assert state is None and database.rows("apps") == []
    else:
        assert set(specs(state)) == {"new"}


def test_an_apply_over_a_members_limits_is_refused_and_writes_nothing(
    database: Database, store: Store, alice: str
) -> None:
    limits = MemberLimits(
        apps_per_workspace=3, workspaces_per_user=2, checks_per_second_per_agent=1
    )
    with pytest.raises(LimitExceeded, match="workspace alice/dev would have 4 apps; a workspace"):
        store.apply(alice, "dev", 0, desired(*(app(f"a{i}") for i in range(4))), limits)
    assert store.get_workspace(alice, "dev") is None and database.rows("agents") == []
    every_second = replace(CHECK, interval=1)
    store.apply(alice, "dev", 0, desired(app("a", healthcheck=every_second)), limits)
    before = store.get_workspace(alice, "dev")
    with pytest.raises(LimitExceeded, match=r"agent main of workspace alice/dev would run 1\.2 "):
        store.apply(
            alice,
            "dev",
            1,
            desired(app("a", healthcheck=every_second), app("b", healthcheck=CHECK)),
            limits,
        )
    with pytest.raises(LimitExceeded, match="would have 4 apps"):
        store.apply(alice, "dev", 1, desired(*(app(f"a{i}") for i in range(4))), limits)
    assert store.get_workspace(alice, "dev") == before

    store.apply(alice, "prod", 0, desired(), limits)
    with pytest.raises(LimitExceeded, match=r"^alice already has 2 workspaces; a user may have"):
        store.apply(alice, "third", 0, desired(), limits)
    assert [w.name for w in store.list_workspaces(alice)] == ["dev", "prod"]
    # At the limit, the workspaces there still change; one destroyed makes room for another.
    assert store.apply(alice, "prod", 1, desired(app("p")), limits).version == 2
    store.create_user("bob", "admin")
    assert store.apply("bob", "dev", 0, desired(), limits).version == 1  # each user their own
    store.destroy(alice, "prod")
    assert store.apply(alice, "third", 0, desired(), limits).version == 1


def test_a_lowered_limit_keeps_what_is_there_until_the_next_apply(store: Store, alice: str) -> None:
    store.apply(alice, "dev", 0, desired(*(app(f"a{i}") for i in range(5))))
    lower = MemberLimits(apps_per_workspace=2)
    assert store.get_workspace(alice, "dev") is not None
    with pytest.raises(LimitExceeded):
        store.apply(alice, "dev", 1, desired(*(app(f"a{i}") for i in range(3))), lower)
    assert store.apply(alice, "dev", 1, desired(app("a0")), lower).version == 2


def test_racing_creations_past_the_workspace_limit_are_counted_one_after_the_other(
    database: Database, store: Store, alice: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = MemberLimits(workspaces_per_user=1)
    results, errors = _race(
        database,
        monkeypatch,
        lambda s, state: s.apply(alice, state.source["name"], 0, state, one),
        (desired(source={"name": "first"}), desired(source={"name": "second"})),
    )
    assert len(results) == 1 and len(errors) == 1, (results, errors)
    assert isinstance(errors[0], LimitExceeded)
    assert len(store.list_workspaces(alice)) == 1


# ----------------------------------------------------------------------------- destroy


def test_destroy(database: Database, store: Store, alice: str) -> None:
    store.apply(alice, "dev", 0, desired(app("a"), app("b")))
    store.apply(alice, "keep", 0, desired(app("c")))
    with pytest.raises(VersionConflict, match=r"now version 1, planned against 7"):
        store.destroy(alice, "dev", 7)
    assert store.get_workspace(alice, "dev") is not None
    assert store.destroy(alice, "dev", 1) is True
    assert store.get_workspace(alice, "dev") is None
    assert [a.slug for a in store.list_apps(alice)] == ["c"]
    assert len(database.rows("agents")) == 1 and len(database.rows("apps")) == 1
    assert store.destroy(alice, "dev") is False
    assert store.destroy("nobody", "dev") is False
    assert store.destroy(alice, "keep") is True
    assert database.rows("agents") == database.rows("apps") == []
    # the name can be used again, from version 1
    assert store.apply(alice, "dev", 0, desired(app("a"))).version == 1


# ----------------------------------------------------------------------------- app router


def test_app_route_is_where_an_app_is_served(store: Store, alice: str) -> None:
    store.apply(
        alice,
        "dev",
        0,
        desired(
            app("code-server", healthcheck=CHECK, share="authenticated"),
            app("path", subdomain=False, subdomain_label=None, access_url="http://x/"),
            app("docs", external=True, url="https://coder.com/docs"),
            app("make", url=None, command="make", subdomain_label=None, access_url=None),
            agents=(AgentSpec("main"),),
        ),
    )
    route = store.app_route(alice, "dev", "code-server")
    assert route is not None
    assert route == AppRoute(
        owner="alice",
        workspace="dev",
        slug="code-server",
        agent="main",
        url="http://localhost:8080/code-server",
        share="authenticated",
        subdomain=True,
        agent_id=route.agent_id,
        agent_state="connecting",  # applied, never connected
        agent_since=route.agent_since,
    )
    path = store.app_route(alice, "dev", "path")
    assert path is not None and (path.subdomain, path.share) == (False, "owner")
    # not served by templater: an external URL, a command; and apps that do not exist
    assert store.app_route(alice, "dev", "docs") is None
    assert store.app_route(alice, "dev", "make") is None
    assert store.app_route(alice, "dev", "nope") is None
    assert store.app_route(alice, "other", "code-server") is None
    assert store.app_route("bob", "dev", "code-server") is None


def _port_route(store: Store, owner: str, agent: str, port: int) -> tuple[object, ...] | None:
    route = store.port_route(owner, "dev", agent, port)
    if route is None:
        return None
    fields = (route.owner, route.workspace, route.agent, route.port, route.share)
    return (*fields, route.agent_state)


def test_port_route_is_owner_only_unless_shared(store: Store, alice: str) -> None:
    side = AgentSpec("side")
    store.apply(alice, "dev", 0, desired(agents=(MAIN, side)))
    assert _port_route(store, alice, "main", 8080) == (
        "alice",
        "dev",
        "main",
        8080,
        "owner",
        "connecting",
    )
    store.share_port(alice, "dev", "main", 8080, "authenticated")
    store.share_port(alice, "dev", "side", 3000, "public")
    assert _port_route(store, alice, "main", 8080) == (
        "alice",
        "dev",
        "main",
        8080,
        "authenticated",
        "connecting",
    )
    assert _port_route(store, alice, "side", 3000) == (
        "alice",
        "dev",
        "side",
        3000,
        "public",
        "connecting",
    )
    # a share is of one agent's one port
    route = store.port_route(alice, "dev", "side", 8080)
    assert route is not None and route.share == "owner"
    route = store.port_route(alice, "dev", "main", 3000)
    assert route is not None and route.share == "owner"
    assert store.port_route(alice, "dev", "nope", 8080) is None
    assert store.port_route(alice, "other", "main", 8080) is None
    assert store.port_route("bob", "dev", "main", 8080) is None


# ----------------------------------------------------------------------------- shared ports


def test_share_list_and_unshare_ports(store: Store, alice: str) -> None:
    side = AgentSpec("side")
    store.apply(alice, "dev", 0, desired(agents=(MAIN, side)))
    store.apply(alice, "empty", 0, desired())
    assert store.port_shares(alice, "dev") == []
    assert store.share_port(alice, "dev", "side", 3000, "public") == PortShare(
        "side", 3000, "public"
    )
    store.share_port(alice, "dev", "main", 8080, "public")
    store.share_port(alice, "dev", "main", 80, "authenticated")
    # sharing again changes the level
    assert store.share_port(alice, "dev", "main", 8080, "authenticated") == PortShare(
        "main", 8080, "authenticated"
    )
    assert store.port_shares(alice, "dev") == [
        PortShare("main", 80, "authenticated"),
        PortShare("main", 8080, "authenticated"),
        PortShare("side", 3000, "public"),
    ]
    assert store.port_shares(alice, "empty") == []
    assert store.port_shares(alice, "nope") is None
    assert store.port_shares("bob", "dev") is None

    assert store.unshare_port(alice, "dev", "main", 8080) is True
    assert store.unshare_port(alice, "dev", "main", 8080) is False
    assert store.unshare_port(alice, "dev", "nope", 80) is False
    assert store.unshare_port(alice, "nope", "main", 80) is False
    assert store.port_shares(alice, "dev") == [
        PortShare("main", 80, "authenticated"),
        PortShare("side", 3000, "public"),
    ]


@pytest.mark.parametrize(
    ("workspace", "agent", "port", "share", "error", "message"),
    [
        ("dev", "main", 8080, "owner", StoreError, "share level 'owner' is invalid; use one of "),
        ("dev", "main", 8080, "", StoreError, "share level '' is invalid"),
        ("dev", "main", 8, "public", StoreError, "templater reserves ports below 9"),
        ("dev", "main", 0, "public", StoreError, "^0 is not a port: use 9 to 65535$"),
        ("dev", "main", 65536, "public", StoreError, "65536 is not a port"),
        ("nope", "main", 8080, "public", NotFound, "^there is no workspace alice/nope$"),
        ("dev", "side", 8080, "public", NotFound, "^workspace alice/dev has no agent side$"),
    ],
)
def test_share_port_refuses(
    database: Database,
    store: Store,
    alice: str,
    workspace: str,
    agent: str,
    port: int,
    share: str,
    error: type[StoreError],
    message: str,
) -> None:
    store.apply(alice, "dev", 0, desired())
    with pytest.raises(error, match=message) as raised:
        store.share_port(alice, workspace, agent, port, share)
    assert type(raised.value) is error
    assert database.rows("port_shares") == []


def test_the_lowest_and_highest_ports_can_be_shared(store: Store, alice: str) -> None:
    store.apply(alice, "dev", 0, desired())
    store.share_port(alice, "dev", "main", 9, "public")
    store.share_port(alice, "dev", "main", 65535, "public")
    assert [share.port for share in store.port_shares(alice, "dev") or []] == [9, 65535]


def test_apply_and_destroy_delete_the_shares_of_what_they_delete(
    database: Database, store: Store, alice: str
) -> None:
    side = AgentSpec("side")
    store.apply(alice, "dev", 0, desired(agents=(MAIN, side)))
    store.apply(alice, "keep", 0, desired())
    store.share_port(alice, "dev", "main", 8080, "public")
    store.share_port(alice, "dev", "side", 3000, "public")
    store.share_port(alice, "keep", "main", 8080, "public")

    # an agent kept by name keeps its shares, even with a new connection timeout; a deleted one
    # loses them
    store.apply(alice, "dev", 1, desired(agents=(AgentSpec("main", 300),)))
    assert store.port_shares(alice, "dev") == [PortShare("main", 8080, "public")]
    route = store.port_route(alice, "dev", "main", 8080)
    assert route is not None and route.share == "public"
    # an agent of the same name added again starts unshared
    store.apply(alice, "dev", 2, desired(agents=(MAIN, side)))
    assert store.port_shares(alice, "dev") == [PortShare("main", 8080, "public")]

    assert store.destroy(alice, "dev") is True
    assert store.port_shares(alice, "keep") == [PortShare("main", 8080, "public")]
    assert len(database.rows("port_shares")) == 1
    store.apply(alice, "dev", 0, desired())
    assert store.port_shares(alice, "dev") == []


# ----------------------------------------------------------------------------- sign-in tickets


def test_tokens_have_names_lifetimes_and_last_uses(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, first = store.create_user("alice", "member")
    record, laptop = store.add_token(user.id, "laptop", timedelta(days=30))
    assert (record.name, record.last_used_at) == ("laptop", None)
    assert record.expires_at == record.created_at + timedelta(days=30)
    [listed_first, listed_laptop] = store.list_tokens(user.id)
    assert (listed_first.name, listed_first.expires_at) == ("first", None)
    assert listed_laptop == record

    assert store.user_by_token(laptop) == user
    [_, used] = store.list_tokens(user.id)
    assert used.last_used_at is not None
    assert store.user_by_token(laptop) == user
    assert store.list_tokens(user.id)[1].last_used_at == used.last_used_at  # to the minute

    later = repository._now() + timedelta(days=31)
    monkeypatch.setattr(repository, "_now", lambda: later)
    assert store.user_by_token(laptop) is None  # expired
    assert store.user_by_token(first) == user  # never expires
    assert store.list_tokens(user.id)[0].last_used_at == later


def test_a_revoked_token_stops_working(store: Store) -> None:
    alice, first = store.create_user("alice", "member")
    bob, _ = store.create_user("bob", "member")
    record, second = store.add_token(alice.id, "ci")
    assert not store.revoke_token(bob.id, record.id)  # not bob's
    assert store.user_by_token(second) == alice
    assert store.revoke_token(alice.id, record.id)
    assert store.user_by_token(second) is None
    assert store.user_by_token(first) == alice
    assert not store.revoke_token(alice.id, record.id)
    assert [token.name for token in store.list_tokens(alice.id)] == ["first"]


def test_a_token_id_never_comes_back(store: Store) -> None:
    # `templater tokens revoke ID` from a listing made before: the id must still mean the token
    # listed, never a newer one.
    alice, _ = store.create_user("alice", "member")
    revoked, _ = store.add_token(alice.id, "old")
    assert store.revoke_token(alice.id, revoked.id)
    newer, _ = store.add_token(alice.id, "new")
    assert newer.id != revoked.id
    assert not store.revoke_token(alice.id, revoked.id)
    assert [token.name for token in store.list_tokens(alice.id)] == ["first", "new"]


def test_an_upgraded_database_never_gives_a_token_id_again(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _old_database(database, monkeypatch, 7)
    with database.engine.begin() as conn:  # a token, as version 7 kept them
        old_tokens = sa.Table("tokens", sa.MetaData(), autoload_with=conn)
        owner = conn.execute(sa.text("SELECT id FROM users WHERE name = 'alice'")).scalar_one()
        conn.execute(
            sa.insert(old_tokens).values(
                user_id=owner,
                token_hash=repository.hash_token("tpl_kept"),
                created_at=datetime.now(UTC),
            )
        )
    upgraded = database.open()
    assert upgraded.migrate() == SCHEMA_VERSION
    alice = upgraded.user_by_name("alice")
    assert alice is not None
    assert upgraded.user_by_token("tpl_kept") == alice
    [kept] = upgraded.list_tokens(alice.id)
    revoked, _ = upgraded.add_token(alice.id, "old")
    assert upgraded.revoke_token(alice.id, revoked.id)
    newer, secret = upgraded.add_token(alice.id, "new")
    assert newer.id not in (kept.id, revoked.id)
    assert upgraded.user_by_token(secret) == alice
    assert [token.id for token in upgraded.list_tokens(alice.id)] == [kept.id, newer.id]


def test_token_names_and_lifetimes_are_checked(store: Store) -> None:
    user, _ = store.create_user("alice", "member")
    with pytest.raises(StoreError, match="at most 64 printable characters"):
        store.add_token(user.id, "x" * 65)
    with pytest.raises(StoreError, match="at most 64 printable characters"):
        store.add_token(user.id, "a\nb")
    with pytest.raises(StoreError, match="lifetime must be positive"):
        store.add_token(user.id, "ci", timedelta(0))


def test_suspending_a_user_ends_their_tokens_and_sessions(store: Store) -> None:
    alice, token = store.create_user("alice", "member")
    bob, bob_token = store.create_user("bob", "member")
    session = store.create_session(alice.id, timedelta(hours=1))
    ticket = store.create_ticket(session, HOST, timedelta(minutes=1))
    assert store.user_by_session(session) == alice

    suspended = store.set_suspended("alice", True)
    assert (suspended.name, suspended.status) == ("alice", "suspended")
    assert store.user_by_token(token) is None
    assert store.user_by_session(session) is None
    assert store.redeem_ticket(ticket, HOST) is None
    assert store.user_by_token(bob_token) == bob
    assert [user.status for user in store.list_users()] == ["suspended", "active"]
    assert store.set_suspended("alice", True).status == "suspended"  # again: no change

    assert store.set_suspended("alice", False).status == "active"
    assert store.user_by_token(token) == alice
    assert store.user_by_session(session) is None  # sessions stay ended
    with pytest.raises(NotFound, match="there is no user carol"):
        store.set_suspended("carol", True)


def test_a_session_id_never_comes_back(store: Store) -> None:
    # A cookie names its session by id: a later session with the same id would make an old
    # cookie good again, for whoever signs in next.
    alice, _ = store.create_user("alice", "member")
    bob, _ = store.create_user("bob", "member")
    ended = store.create_session(alice.id, timedelta(hours=1))
    store.end_session(ended)
    later = store.create_session(bob.id, timedelta(hours=1))
    assert later != ended
    assert store.user_by_session(ended) is None


def test_a_session_lasts_until_it_ends_or_expires(
    database: Database, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, _ = store.create_user("alice", "member")
    ended = store.create_session(alice.id, timedelta(hours=1))
    ticket = store.create_ticket(ended, HOST, timedelta(minutes=1))
    store.end_session(ended)
    assert store.user_by_session(ended) is None
    assert store.redeem_ticket(ticket, HOST) is None
    assert database.rows("app_tickets") == []  # went with its session

    expiring = store.create_session(alice.id, timedelta(hours=1))
    assert store.user_by_session(expiring) == alice
    later = repository._now() + timedelta(hours=2)
    monkeypatch.setattr(repository, "_now", lambda: later)
    assert store.user_by_session(expiring) is None
    store.create_session(alice.id, timedelta(hours=1))
    assert len(database.rows("browser_sessions")) == 1  # the expired one is gone
    with pytest.raises(NotFound, match="no user with id 999"):
        store.create_session(999, timedelta(hours=1))


HOST = "code-server--dev--alice.apps.localhost:7080"


def _session(store: Store, name: str = "alice") -> BrowserSession:
    user, _ = store.create_user(name, "member")
    return BrowserSession(store.create_session(user.id, timedelta(hours=1)), user)


def test_a_ticket_signs_in_once_on_its_host(database: Database, store: Store) -> None:
    session = _session(store)
    ticket = store.create_ticket(session.id, HOST, timedelta(minutes=1))
    assert len(ticket) >= 40 and not ticket.startswith(TOKEN_PREFIX)
    assert store.redeem_ticket(ticket, HOST) == session
    assert store.redeem_ticket(ticket, HOST) is None  # used

    # presented on another host: refused, and used up all the same
    ticket = store.create_ticket(session.id, HOST, timedelta(minutes=1))
    assert store.redeem_ticket(ticket, "other--dev--alice.apps.localhost:7080") is None
    assert store.redeem_ticket(ticket, HOST) is None

    ticket = store.create_ticket(session.id, HOST.upper(), timedelta(minutes=1))
    assert store.redeem_ticket(ticket, HOST) == session  # host names are not case-sensitive

    assert store.redeem_ticket("", HOST) is None
    assert store.redeem_ticket("not-a-ticket", HOST) is None
    assert database.rows("app_tickets") == []


def test_tickets_are_stored_only_as_hashes(database: Database, store: Store) -> None:
    session = _session(store)
    ticket = store.create_ticket(session.id, HOST, timedelta(minutes=1))
    [row] = database.rows("app_tickets")
    assert row["ticket_hash"] == repository.hash_token(ticket)
    assert (row["session_id"], row["host"]) == (session.id, HOST)
    assert ticket not in repr(row)


def test_expired_tickets_are_refused_and_deleted(
    database: Database, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = _session(store)
    expired = store.create_ticket(session.id, HOST, timedelta(minutes=1))
    stale = store.create_ticket(session.id, HOST, timedelta(minutes=1))
    later = repository._now() + timedelta(minutes=2)
    monkeypatch.setattr(repository, "_now", lambda: later)
    assert store.redeem_ticket(expired, HOST) is None
    assert len(database.rows("app_tickets")) == 1
    fresh = store.create_ticket(session.id, HOST, timedelta(minutes=1))
    assert len(database.rows("app_tickets")) == 1  # the stale one is gone
    assert store.redeem_ticket(stale, HOST) is None
    assert store.redeem_ticket(fresh, HOST) == session


def test_create_ticket_refuses_bad_requests(store: Store) -> None:
    session = _session(store)
    with pytest.raises(NotFound, match="no session with id 999"):
        store.create_ticket(999, HOST, timedelta(minutes=1))
    with pytest.raises(StoreError, match="lifetime must be positive"):
        store.create_ticket(session.id, HOST, timedelta(0))


def _at_once(stores: list[Store], run: Callable[[Store], object]) -> list[object]:
    """Run ``run`` with each store in its own thread, all starting together; the results."""
    results: list[object] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def go(opened: Store) -> None:
        barrier.wait()
        try:
            results.append(run(opened))
        except BaseException as problem:
            errors.append(problem)

    threads = [threading.Thread(target=go, args=(opened,)) for opened in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


def test_concurrent_redeems_of_one_ticket_one_wins(database: Database, store: Store) -> None:
    session = _session(store)
    stores = [database.open() for _ in range(6)]
    for opened in stores:
        opened.user_by_name("alice")  # connect before the start line
    for _ in range(5):
        ticket = store.create_ticket(session.id, HOST, timedelta(minutes=1))

        def redeem(opened: Store, ticket: str = ticket) -> object:
            return opened.redeem_ticket(ticket, HOST)

        results = _at_once(stores, redeem)
        assert sorted(results, key=lambda found: found is None) == [session] + [None] * 5


# ----------------------------------------------------------------------------- server secrets


def test_a_secret_is_made_once_and_kept(database: Database, store: Store) -> None:
    secret = store.secret("sessions")
    assert isinstance(secret, bytes) and len(secret) == 32
    assert store.secret("sessions") == secret
    assert database.open().secret("sessions") == secret
    other = store.secret("tickets")
    assert len(other) == 32 and other != secret
    rows = {row["name"]: row["value"] for row in database.rows("server_secrets")}
    assert rows == {"sessions": secret.hex(), "tickets": other.hex()}


def test_a_secret_stored_meanwhile_by_another_server_wins(
    database: Database, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    theirs = bytes(range(32))
    real_token_hex = secrets.token_hex

    def made_after_another_server(length: int) -> str:
        # between this server's read (nothing yet) and its insert, another server stores one
        database.execute(
            "INSERT INTO server_secrets (name, value) VALUES ('sessions', :value)",
            value=theirs.hex(),
        )
        return real_token_hex(length)

    monkeypatch.setattr(secrets, "token_hex", made_after_another_server)
    assert store.secret("sessions") == theirs
    assert database.rows("server_secrets") == [{"name": "sessions", "value": theirs.hex()}]


def test_concurrent_servers_get_the_same_secret(database: Database, store: Store) -> None:
    stores = [database.open() for _ in range(6)]
    for opened in stores:
        opened.user_by_name("alice")
    results = _at_once(stores, lambda opened: opened.secret("sessions"))
    assert len(results) == len(stores) and len(set(results)) == 1
    assert len(database.rows("server_secrets")) == 1


# ----------------------------------------------------------------------------- speed


def _statements(action: Callable[[], T]) -> tuple[T, list[str]]:
    """What ``action`` returns, and the first word of each SQL statement it sent."""
    sent: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        sent.append(statement.split(None, 1)[0].upper())

    sa.event.listen(sa.Engine, "before_cursor_execute", note)
    try:
        return action(), sent
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", note)


def test_a_thousand_apps_apply_in_as_few_statements_as_ten(store: Store, alice: str) -> None:
    """Speed without a stopwatch: the statements of an apply do not grow with its apps (they go
    in batches), and an apply that changes nothing writes nothing."""
    few = desired(*(app(f"app-{i}", healthcheck=CHECK, order=i) for i in range(10)))
    many = desired(*(app(f"app-{i}", healthcheck=CHECK, order=i) for i in range(1000)))
    room = MemberLimits(apps_per_workspace=1000, checks_per_second_per_agent=200)
    _, for_few = _statements(lambda: store.apply(alice, "few", 0, few, room))
    created, for_many = _statements(lambda: store.apply(alice, "dev", 0, many, room))
    assert len(created.created) == 1001
    assert for_many == for_few
    again, unchanged = _statements(lambda: store.apply(alice, "dev", 1, many, room))
    assert again.version == 1
    assert not {"INSERT", "UPDATE", "DELETE"} & set(unchanged), unchanged
