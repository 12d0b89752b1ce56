"""The registry store against a real SQLite file and, when TEMPLATER_TEST_POSTGRES_URL is set
(e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``), against PostgreSQL too: each
PostgreSQL test gets a schema of its own, dropped afterwards."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from templater.server import store as store_module
from templater.server.records import (
    AgentSpec,
    AppSpec,
    DesiredState,
    Healthcheck,
    WorkspaceState,
)
from templater.server.store import (
    SCHEMA_VERSION,
    TOKEN_PREFIX,
    Store,
    StoreError,
    StoreUnavailable,
    VersionConflict,
)

from .conftest import BACKENDS, postgres_schema


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
MAIN = AgentSpec("main", "127.0.0.1")


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
    second = store.add_token(bob.id)
    assert second != bob_token
    assert store.user_by_token(second) == bob == store.user_by_token(bob_token)
    assert store.list_users() == [user, bob]


def test_duplicate_user_and_bad_role_are_refused(store: Store) -> None:
    store.create_user("alice", "member")
    with pytest.raises(StoreError, match=r"^user alice already exists$"):
        store.create_user("alice", "admin")
    with pytest.raises(StoreError, match="role 'root' is invalid; use one of admin, member"):
        store.create_user("bob", "root")
    with pytest.raises(StoreError, match="no user with id 999"):
        store.add_token(999)


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
    other = store.add_token(user.id)
    [first_row, second_row] = database.rows("tokens")
    assert len(first_row["token_hash"]) == 64
    assert {first_row["token_hash"], second_row["token_hash"]} == {
        store_module._hash_token(token),
        store_module._hash_token(other),
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
            agents=(MAIN, AgentSpec("old", "10.0.0.1"), AgentSpec("side", "10.0.0.2")),
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
            agents=(MAIN, AgentSpec("side", "10.0.0.3"), AgentSpec("extra", "10.0.0.4")),
        ),
    )
    assert result.version == 2
    assert result.created == ("agent.extra", "app.new")
    assert result.updated == ("agent.side", "app.checked", "app.code-server", "app.jupyter")
    assert result.replaced == ("app.moved",)
    assert result.deleted == ("agent.old", "app.gone")

    state = store.get_workspace(alice, "dev")
    assert state is not None and state.version == 2
    assert {agent.name: agent.address for agent in state.agents} == {
        "main": "127.0.0.1",
        "side": "10.0.0.3",
        "extra": "10.0.0.4",
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
    monkeypatch.setattr(store_module, "_insert_apps", broken)


def test_a_failure_mid_apply_leaves_the_previous_state(
    database: Database, store: Store, alice: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.apply(
        alice,
        "dev",
        0,
        desired(
            app("a", healthcheck=CHECK), app("b"), app("c"), agents=(MAIN, AgentSpec("x", "h"))
        ),
    )
    database.execute("UPDATE apps SET health = 'healthy' WHERE slug = 'a'")
    before = store.get_workspace(alice, "dev")
    rows_before = {table: database.rows(table) for table in ("workspaces", "agents", "apps")}
    change = desired(
        app("a", healthcheck=CHECK, display_name="changed"),
        app("c", agent="y"),
        app("d"),
        agents=(AgentSpec("main", "10.1.1.1"), AgentSpec("y", "h")),
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
    real_diff = store_module._diff

    def slow_diff(*args: Any) -> Any:
        time.sleep(0.3)
        return real_diff(*args)

    monkeypatch.setattr(store_module, "_diff", slow_diff)
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
        agents=(AgentSpec("other", "10.0.0.9"),),
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


# ----------------------------------------------------------------------------- speed


def test_a_thousand_apps_apply_fast(database: Database, store: Store, alice: str) -> None:
    many = desired(*(app(f"app-{i}", healthcheck=CHECK, order=i) for i in range(1000)))
    started = time.perf_counter()
    assert len(store.apply(alice, "dev", 0, many).created) == 1001
    created = time.perf_counter() - started
    started = time.perf_counter()
    assert store.apply(alice, "dev", 1, many).version == 1
    unchanged = time.perf_counter() - started
    assert created < 1.0, created
    assert unchanged < 0.3, unchanged
