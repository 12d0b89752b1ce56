"""Workspace agents in the registry store: their tokens (issued, replaced, ended by an apply that
removes the agent and by a destroy), their states with the computed timeout, the server holding
each connection, their listening ports and the health changes they report. On a real SQLite
file and, with TEMPLATER_TEST_POSTGRES_URL, on PostgreSQL too (see test_store)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from templater.model.records import (
    AgentCheck,
    AgentEvent,
    AgentRecord,
    AgentSpec,
    Healthcheck,
    HealthEvent,
    ListeningPort,
    PortsEvent,
    SharedPort,
)
from templater.server.store import (
    AGENT_TOKEN_PREFIX,
    TOKEN_PREFIX,
    NotFound,
    Store,
    StoreError,
    hash_token,
    schema,
)

from .test_store import CHECK, MAIN, Database, alice, app, database, desired, store

__all__ = ["alice", "database", "store"]  # fixtures, used by name

T0 = datetime(2025, 6, 2, 9, 14, 3, tzinfo=UTC)
SERVER = "host-a:101"
OTHER_SERVER = "host-b:202"


def agent_id(store: Store, owner: str, workspace: str, agent: str) -> int:
    """The id of an agent, through a token issued for it (as the hub learns it)."""
    identity = store.agent_by_token(store.issue_agent_token(owner, workspace, agent))
    assert identity is not None
    return identity.agent_id


def set_agent_row(database: Database, name: str, **values: Any) -> None:
    """Change agent ``name``'s row directly (its time in the past, say)."""
    with database.engine.begin() as conn:
        conn.execute(sa.update(schema.agents).where(schema.agents.c.name == name).values(values))


def agents(store: Store, owner: str | None = None) -> dict[str, AgentRecord]:
    return {agent.name: agent for agent in store.list_agents(owner)}


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    """The SQL statements the store sends meanwhile."""
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement != "BEGIN":  # SQLite's transactions begin with a statement of their own
            sent.append(statement)

    sa.event.listen(store._engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        sa.event.remove(store._engine, "before_cursor_execute", record)


# ----------------------------------------------------------------------------- tokens


def test_an_agent_token_is_issued_stored_as_a_hash_and_replaced(
    database: Database, store: Store, alice: str
) -> None:
    store.apply(alice, "dev", 0, desired(agents=(MAIN, AgentSpec("side"))))
    token = store.issue_agent_token(alice, "dev", "main")
    assert token.startswith(AGENT_TOKEN_PREFIX) and len(token) >= len(AGENT_TOKEN_PREFIX) + 43
    assert not token.startswith(TOKEN_PREFIX)
    identity = store.agent_by_token(token)
    assert identity is not None
    assert (identity.owner, identity.workspace, identity.agent) == ("alice", "dev", "main")
    rows = {row["name"]: row for row in database.rows("agents")}
    assert rows["main"]["token_hash"] == hash_token(token) and rows["side"]["token_hash"] is None
    assert token.removeprefix(AGENT_TOKEN_PREFIX) not in repr(database.rows("agents"))

    again = store.issue_agent_token(alice, "dev", "main")
    assert again != token
    assert store.agent_by_token(token) is None  # the previous token ended
    assert store.agent_by_token(again) == identity
    side = store.agent_by_token(store.issue_agent_token(alice, "dev", "side"))
    assert side is not None and side.agent == "side" and side.agent_id != identity.agent_id
    assert store.agent_by_token(again) == identity  # another agent's token changes nothing


def test_issuing_a_token_names_what_is_missing(store: Store, alice: str) -> None:
    store.apply(alice, "dev", 0, desired())
    with pytest.raises(NotFound, match=r"^there is no workspace alice/prod$"):
        store.issue_agent_token(alice, "prod", "main")
    with pytest.raises(NotFound, match=r"^there is no workspace bob/dev$"):
        store.issue_agent_token("bob", "dev", "main")
    with pytest.raises(NotFound, match=r"^workspace alice/dev has no agent side$"):
        store.issue_agent_token(alice, "dev", "side")


def test_agent_by_token_for_right_replaced_garbage_and_huge_tokens(
    store: Store, alice: str
) -> None:
    store.apply(alice, "dev", 0, desired())
    replaced = store.issue_agent_token(alice, "dev", "main")
    token = store.issue_agent_token(alice, "dev", "main")
    _, api_token = store.create_user("bob", "member")
    assert store.agent_by_token(token) is not None
    not_agent_tokens = [
        "",
        api_token,
        token.removeprefix(AGENT_TOKEN_PREFIX),
        "TPA_" + token.removeprefix(AGENT_TOKEN_PREFIX),
        AGENT_TOKEN_PREFIX + "x" * 10_000_000,  # huge: refused without hashing it
        token + "x" * 1000,
    ]
    with statements(store) as sent:
        for text in not_agent_tokens:
            assert store.agent_by_token(text) is None
    assert sent == []  # none of them cost a query
    for text in [replaced, token + "x", token[:-1], AGENT_TOKEN_PREFIX, "tpa_\udc80\x00"]:
        with statements(store) as sent:
            assert store.agent_by_token(text) is None
        assert len(sent) == 1  # one indexed lookup of the hash
    assert store.user_by_token(token) is None  # an agent token is no API token


def test_an_apply_keeps_a_kept_agents_token_and_state_and_ends_a_removed_ones(
    database: Database, store: Store, alice: str
) -> None:
    side = AgentSpec("side")
    store.apply(alice, "dev", 0, desired(agents=(MAIN, side)))
    main_token = store.issue_agent_token(alice, "dev", "main")
    side_token = store.issue_agent_token(alice, "dev", "side")
    main = store.agent_by_token(main_token)
    side_identity = store.agent_by_token(side_token)
    assert main is not None and side_identity is not None
    assert store.agent_connected(main.agent_id, SERVER, "1.0", "linux", "amd64", "box", T0)

    # main kept at a new address and timeout: same token, same state; side removed: its token ends
    result = store.apply(alice, "dev", 1, desired(agents=(AgentSpec("main", 300),)))
    assert (result.updated, result.deleted) == (("agent.main",), ("agent.side",))
    assert store.agent_by_token(main_token) == main
    assert store.agent_by_token(side_token) is None
    assert agents(store)["main"].state == "connected"
    assert agents(store)["main"].state_changed_at == T0
    hashes = store.agent_token_hashes([main.agent_id, side_identity.agent_id])
    assert hashes == {main.agent_id: hash_token(main_token)}

    # added again under the same name: a new agent, connecting, without a token
    before = datetime.now(UTC)
    store.apply(alice, "dev", 2, desired(agents=(AgentSpec("main", 300), side)))
    again = agents(store)["side"]
    assert again.state == "connecting" and again.state_changed_at >= before - timedelta(seconds=1)
    assert store.agent_by_token(side_token) is None
    assert {row["name"]: row["token_hash"] for row in database.rows("agents")}["side"] is None

    assert store.destroy(alice, "dev") is True
    assert store.agent_by_token(main_token) is None
    assert store.agent_token_hashes([main.agent_id]) == {}
    store.apply(alice, "dev", 0, desired())
    assert store.agent_by_token(main_token) is None  # a new workspace of the same name


def test_agent_token_hashes(database: Database, store: Store, alice: str) -> None:
    store.apply(alice, "dev", 0, desired(agents=(MAIN, AgentSpec("side"))))
    token = store.issue_agent_token(alice, "dev", "main")
    identity = store.agent_by_token(token)
    assert identity is not None
    ids = {row["name"]: row["id"] for row in database.rows("agents")}
    assert store.agent_token_hashes(ids.values()) == {ids["main"]: hash_token(token)}  # no token
    assert store.agent_token_hashes([]) == {}
    assert store.agent_token_hashes({identity.agent_id}) == {identity.agent_id: hash_token(token)}
    side = agent_id(store, alice, "dev", "side")
    side_hash = store.agent_token_hashes([side])[side]
    many = [identity.agent_id, *range(10_000, 11_500)]  # more than one IN list's worth
    assert store.agent_token_hashes(many) == {identity.agent_id: hash_token(token)}
    assert store.agent_token_hashes([side, identity.agent_id, side]) == {
        identity.agent_id: hash_token(token),
        side: side_hash,
    }


def test_a_connection_timeout_must_be_whole_seconds_from_0(store: Store, alice: str) -> None:
    with pytest.raises(StoreError, match="agent main has connection_timeout -1; use 0"):
        store.apply(alice, "dev", 0, desired(agents=(AgentSpec("main", -1),)))
    store.apply(alice, "dev", 0, desired(agents=(AgentSpec("main", 0),)))
    state = store.get_workspace(alice, "dev")
    assert state is not None and state.agents == (AgentSpec("main", 0),)


# ----------------------------------------------------------------------------- states


def test_an_agent_connects_and_disconnects(store: Store, alice: str) -> None:
    before = datetime.now(UTC)
    store.apply(alice, "dev", 0, desired(app("code-server")))
    [new] = store.list_agents()
    assert new == AgentRecord(
        owner="alice",
        workspace="dev",
        name="main",
        state="connecting",
        state_changed_at=new.state_changed_at,
        version=None,
        os=None,
        arch=None,
        hostname=None,
        ports=(),
    )
    assert before - timedelta(seconds=1) <= new.state_changed_at <= datetime.now(UTC)
    [code] = store.list_apps(alice)
    assert (code.agent_state, code.agent_state_changed_at) == ("connecting", new.state_changed_at)

    agent = agent_id(store, alice, "dev", "main")
    event = store.agent_connected(agent, SERVER, "2.1.0", "linux", "arm64", "dev-box", T0)
    assert event == AgentEvent("alice", "dev", "main", "connected", T0)
    [connected] = store.list_agents()
    assert (connected.state, connected.state_changed_at) == ("connected", T0)
    assert (connected.version, connected.os, connected.arch, connected.hostname) == (
        "2.1.0",
        "linux",
        "arm64",
        "dev-box",
    )
    [code] = store.list_apps(alice)
    assert (code.agent_state, code.agent_state_changed_at) == ("connected", T0)

    store.set_agent_ports(
        agent,
        [
            ListeningPort(8080, "python3"),
            ListeningPort(3000, ""),
            ListeningPort(8080, "again"),  # one entry per port
            ListeningPort(0, "bad"),
            ListeningPort(70_000, "bad"),
        ],
    )
    assert store.list_agents()[0].ports == (ListeningPort(3000, ""), ListeningPort(8080, "python3"))

    later = T0 + timedelta(minutes=5)
    event = store.agent_disconnected(agent, SERVER, later)
    assert event == AgentEvent("alice", "dev", "main", "disconnected", later)
    [gone] = store.list_agents()
    assert (gone.state, gone.state_changed_at, gone.ports) == ("disconnected", later, ())
    assert gone.version == "2.1.0"  # what it said of itself stays
    assert store.agent_disconnected(agent, SERVER, later) is None  # held by no server now


def test_only_the_server_holding_the_connection_marks_it_disconnected(
    database: Database, store: Store, alice: str
) -> None:
    store.apply(alice, "dev", 0, desired())
    agent = agent_id(store, alice, "dev", "main")
    store.agent_connected(agent, SERVER, "1", "linux", "amd64", "box", T0)
    store.set_agent_ports(agent, [ListeningPort(8080, "node")])
    # a newer connection to another server replaced it
    later = T0 + timedelta(seconds=5)
    store.agent_connected(agent, OTHER_SERVER, "1", "linux", "amd64", "box", later)
    assert store.agent_disconnected(agent, SERVER, later + timedelta(seconds=1)) is None
    [still] = store.list_agents()
    assert (still.state, still.state_changed_at, still.ports) == (
        "connected",
        later,
        (ListeningPort(8080, "node"),),
    )
    assert database.rows("agents")[0]["server"] == OTHER_SERVER
    assert store.agent_disconnected(agent, OTHER_SERVER, later + timedelta(seconds=2))
    assert database.rows("agents")[0]["server"] is None


def test_the_server_holding_each_agent_and_releasing_a_dead_servers_agents(
    store: Store, alice: str
) -> None:
    store.apply(alice, "dev", 0, desired(agents=(MAIN, AgentSpec("side"))))
    store.apply(alice, "other", 0, desired())
    main, side = (agent_id(store, alice, "dev", name) for name in ("main", "side"))
    other = agent_id(store, alice, "other", "main")
    assert store.agent_servers() == set() and store.agent_server(main) is None
    for agent, server in ((main, SERVER), (side, SERVER), (other, OTHER_SERVER)):
        store.agent_connected(agent, server, "1", "linux", "amd64", "box", T0)
    store.set_agent_ports(main, [ListeningPort(8080, "node")])
    assert store.agent_servers() == {SERVER, OTHER_SERVER}
    assert (store.agent_server(main), store.agent_server(other)) == (SERVER, OTHER_SERVER)

    later = T0 + timedelta(seconds=9)
    events = store.release_agents(SERVER, later)
    assert sorted((e.workspace, e.agent, e.state, e.at) for e in events) == [
        ("dev", "main", "disconnected", later),
        ("dev", "side", "disconnected", later),
    ]
    states = {(a.workspace, a.name): (a.state, a.ports) for a in store.list_agents()}
    assert states == {
        ("dev", "main"): ("disconnected", ()),
        ("dev", "side"): ("disconnected", ()),
        ("other", "main"): ("connected", ()),
    }
    assert store.agent_servers() == {OTHER_SERVER} and store.agent_server(main) is None
    assert store.release_agents(SERVER, later) == []


def test_an_agent_that_never_connects_in_time_reads_as_timeout(
    database: Database, store: Store, alice: str
) -> None:
    store.apply(
        alice,
        "dev",
        0,
        desired(
            app("code-server"),
            agents=(
                AgentSpec("main", 1),
                AgentSpec("patient", 0),  # never times out
                AgentSpec("default"),
            ),
        ),
    )
    assert {agent.state for agent in store.list_agents()} == {"connecting"}
    long_ago = datetime.now(UTC) - timedelta(seconds=100)
    for name in ("main", "patient", "default"):
        set_agent_row(database, name, state_changed_at=long_ago)
    states = {name: agent.state for name, agent in agents(store).items()}
    assert states == {"main": "timeout", "patient": "connecting", "default": "connecting"}
    assert agents(store)["main"].state_changed_at == long_ago  # since it was applied
    [code] = store.list_apps(alice)
    assert (code.agent, code.agent_state) == ("main", "timeout")
    assert [row["state"] for row in database.rows("agents")] == ["connecting"] * 3  # not stored

    set_agent_row(database, "default", state_changed_at=long_ago - timedelta(seconds=21))
    assert agents(store)["default"].state == "timeout"  # 121 s > its default of 120

    # a timed-out agent that connects at last is connected; disconnected never times out
    main = agent_id(store, alice, "dev", "main")
    store.agent_connected(main, SERVER, "1", "linux", "amd64", "box", long_ago)
    assert agents(store)["main"].state == "connected"
    store.agent_disconnected(main, SERVER, long_ago)
    assert agents(store)["main"].state == "disconnected"


def test_a_gone_agent_changes_nothing(store: Store, alice: str) -> None:
    store.apply(alice, "dev", 0, desired())
    agent = agent_id(store, alice, "dev", "main")
    store.destroy(alice, "dev")
    assert store.agent_connected(agent, SERVER, "1", "linux", "amd64", "box", T0) is None
    assert store.agent_disconnected(agent, SERVER, T0) is None
    store.set_agent_ports(agent, [ListeningPort(8080, "x")])
    assert store.agent_checks(agent) == []
    assert store.record_agent_health(agent, [("code-server", "healthy", "status 200", T0)]) == []
    assert store.list_agents() == []


def test_list_agents_by_owner_and_workspace(store: Store, alice: str) -> None:
    store.create_user("bob", "member")
    side = AgentSpec("side")
    store.apply(alice, "dev", 0, desired(agents=(side, MAIN)))
    store.apply(alice, "prod", 0, desired())
    store.apply("bob", "dev", 0, desired())
    everyone = [(a.owner, a.workspace, a.name) for a in store.list_agents()]
    assert everyone == [
        ("alice", "dev", "main"),
        ("alice", "dev", "side"),
        ("alice", "prod", "main"),
        ("bob", "dev", "main"),
    ]
    assert [(a.workspace, a.name) for a in store.list_agents("alice", "dev")] == [
        ("dev", "main"),
        ("dev", "side"),
    ]
    assert [(a.owner, a.workspace) for a in store.list_agents(workspace="dev")] == [
        ("alice", "dev"),
        ("alice", "dev"),
        ("bob", "dev"),
    ]
    assert store.list_agents("carol") == []


# ----------------------------------------------------------------------------- checks and health


def test_an_agent_checks_its_own_apps_with_a_healthcheck(store: Store, alice: str) -> None:
    other_check = Healthcheck("http://localhost:9000/ready", 10, 2)
    store.apply(
        alice,
        "dev",
        0,
        desired(
            app("web", healthcheck=CHECK),
            app("api", healthcheck=other_check),
            app("docs"),
            app("side-app", agent="side", healthcheck=CHECK),
            agents=(MAIN, AgentSpec("side")),
        ),
    )
    main = agent_id(store, alice, "dev", "main")
    assert store.agent_checks(main) == [
        AgentCheck("api", "http://localhost:9000/ready", 10, 2, "initializing"),
        AgentCheck("web", CHECK.url, CHECK.interval, CHECK.threshold, "initializing"),
    ]
    side = agent_id(store, alice, "dev", "side")
    assert [check.slug for check in store.agent_checks(side)] == ["side-app"]


def test_an_agent_reports_health_only_for_its_own_checked_apps(store: Store, alice: str) -> None:
    store.create_user("bob", "member")
    store.apply(
        alice,
        "dev",
        0,
        desired(
            app("web", healthcheck=CHECK),
            app("docs"),
            app("side-app", agent="side", healthcheck=CHECK),
            agents=(MAIN, AgentSpec("side")),
        ),
    )
    store.apply("bob", "dev", 0, desired(app("bobs", healthcheck=CHECK)))
    main = agent_id(store, alice, "dev", "main")
    at = T0 + timedelta(seconds=1)
    events = store.record_agent_health(
        main,
        [
            ("web", "unhealthy", "status 503", T0),
            ("side-app", "unhealthy", "another agent's app", T0),
            ("bobs", "unhealthy", "another user's app", T0),
            ("docs", "healthy", "no healthcheck", T0),
            ("nope", "healthy", "unknown", T0),
            ("web", "disabled", "not a state an agent reports", T0),
            ("web", "bogus", "nor this", T0),
            ("web", "healthy", "status 200", at),
        ],
    )
    assert events == [
        HealthEvent("alice", "dev", "web", "unhealthy", "status 503", T0, "initializing"),
        HealthEvent("alice", "dev", "web", "healthy", "status 200", at, "unhealthy"),
    ]
    health = {(a.owner, a.slug): a.health for a in store.list_apps()}
    assert health == {
        ("alice", "docs"): "disabled",
        ("alice", "side-app"): "initializing",
        ("alice", "web"): "healthy",
        ("bob", "bobs"): "initializing",
    }
    found = store.app_health(alice, "dev", "web")
    assert found is not None
    assert [(e.health, e.reason) for e in found[1]] == [
        ("healthy", "status 200"),
        ("unhealthy", "status 503"),
    ]
    assert store.record_agent_health(main, []) == []
    assert store.record_agent_health(main, [("side-app", "healthy", "x", T0)]) == []
    checks = {check.slug: check.health for check in store.agent_checks(main)}
    assert checks == {"web": "healthy"}


def test_an_agents_ssh_host_key_is_kept_while_it_is_away(store: Store, alice: str) -> None:
    store.apply(alice, "dev", 0, desired(app("code-server")))
    agent = agent_id(store, alice, "dev", "main")
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0="
    store.agent_connected(agent, SERVER, "1", "linux", "amd64", "box", T0, key)
    store.agent_disconnected(agent, SERVER, T0)
    [record] = store.list_agents()
    assert (record.state, record.ssh_host_key) == ("disconnected", key)
    [route] = store.agent_routes("alice", "dev")
    assert (route.agent, route.agent_id, route.agent_state) == ("main", agent, "disconnected")
    assert store.agent_routes("alice", "nope") == ()


def test_an_app_carries_the_reason_of_its_latest_health(store: Store, alice: str) -> None:
    store.apply(alice, "dev", 0, desired(app("web", healthcheck=CHECK), app("docs")))
    main = agent_id(store, alice, "dev", "main")
    assert {a.slug: a.health_reason for a in store.list_apps(alice)} == {"docs": "", "web": ""}
    store.record_agent_health(main, [("web", "unhealthy", "status 503 for 3 checks", T0)])
    later = T0 + timedelta(seconds=1)
    store.record_agent_health(main, [("web", "healthy", "status 200", later)])
    store.record_agent_health(main, [("web", "unhealthy", "connection refused", later)])
    [docs, web] = store.list_apps(alice)
    assert (web.health, web.health_reason) == ("unhealthy", "connection refused")
    assert docs.health_reason == ""


def test_a_change_of_listening_ports_is_an_event_and_no_change_is_none(
    store: Store, alice: str
) -> None:
    store.apply(alice, "dev", 0, desired())
    agent = agent_id(store, alice, "dev", "main")
    store.agent_connected(agent, SERVER, "2.1.0", "linux", "arm64", "dev-box", T0)
    ports = [ListeningPort(8080, "python3"), ListeningPort(3000, "node")]
    assert store.set_agent_ports(agent, ports) == PortsEvent(
        "alice", "dev", "main", (ListeningPort(3000, "node"), ListeningPort(8080, "python3"))
    )
    assert store.set_agent_ports(agent, list(reversed(ports))) is None
    assert store.set_agent_ports(agent, []) == PortsEvent("alice", "dev", "main", ())
    assert store.set_agent_ports(10_000, ports) is None  # an agent that is gone


def test_what_others_share_is_listed_for_every_other_user(store: Store, alice: str) -> None:
    store.create_user("bob", "member")
    store.apply(
        alice,
        "dev",
        0,
        desired(app("mine"), app("team", share="authenticated"), app("world", share="public")),
    )
    store.apply("bob", "lab", 0, desired(app("bobs", share="public")))
    store.share_port(alice, "dev", "main", 8080, "public")
    store.share_port("bob", "lab", "main", 3000, "authenticated")
    assert [(a.owner, a.slug) for a in store.shared_apps(not_of="bob")] == [
        ("alice", "team"),
        ("alice", "world"),
    ]
    assert [(a.owner, a.slug) for a in store.shared_apps(not_of=alice)] == [("bob", "bobs")]
    assert store.shared_ports(not_of="bob") == [SharedPort("alice", "dev", "main", 8080, "public")]
    assert store.shared_ports() == [
        SharedPort("alice", "dev", "main", 8080, "public"),
        SharedPort("bob", "lab", "main", 3000, "authenticated"),
    ]
    assert store.shared_ports("bob") == [SharedPort("bob", "lab", "main", 3000, "authenticated")]
