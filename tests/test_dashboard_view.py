"""What the workspaces page shows, made from records with no server (SPEC §13): health in
words, icons, which apps show and in what order, what a tile links to, and the rows of the
"Port forward" box."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from templater.model.hostnames import compile_wildcard
from templater.model.records import (
    APP_SPEC_FIELDS,
    AgentRecord,
    AppRecord,
    Healthcheck,
    ListeningPort,
    SharedPort,
    WorkspaceState,
)
from templater.server.dashboard.icons import icon_names, icon_source, icon_svg
from templater.server.dashboard.view import (
    Ports,
    app_health,
    app_tile,
    shared_port_links,
    workspace_views,
)

from .test_store import app

T0 = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
PORTS = Ports(compile_wildcard("*.apps.example.com"), "https://templater.example.com")
NO_PORTS = Ports(None, "https://templater.example.com")


def _app(slug: str, **fields: Any) -> AppRecord:
    """An app of alice's ``dev`` as the store lists it, with nothing of its own but ``fields``."""
    record: dict[str, Any] = {name: getattr(app(slug), name) for name in APP_SPEC_FIELDS}
    record.update(
        display_name=None,
        icon=None,
        access_url=f"https://{slug}--dev--alice.apps.example.com/",
        workspace="dev",
        owner="alice",
        health="disabled",
        health_changed_at=None,
    )
    record.update(fields)
    return AppRecord(**record)


def _agent(name: str = "main", *ports: ListeningPort, owner: str = "alice") -> AgentRecord:
    return AgentRecord(
        owner, "dev", name, "connected", T0, "0.1.0", "linux", "amd64", "box", tuple(ports)
    )


def _workspace(*apps: AppRecord, owner: str = "alice") -> WorkspaceState:
    return WorkspaceState("dev", owner, 1, {}, {}, (), apps, T0)


@pytest.mark.parametrize(
    ("health", "reason", "tone", "label"),
    [
        ("disabled", "", "none", "no healthcheck"),
        ("initializing", "", "wait", "initializing"),
        ("healthy", "status 200", "good", "healthy"),
        ("unhealthy", "status 503 for 3 checks", "bad", "unhealthy: status 503 for 3 checks"),
        ("unhealthy", "", "bad", "unhealthy"),
    ],
)
def test_health_reads_as_words_with_its_reason(
    health: str, reason: str, tone: str, label: str
) -> None:
    at = None if health == "disabled" else T0
    check = Healthcheck("http://localhost:8080/healthz", 5, 3)
    state = app_health(
        _app("code", health=health, health_reason=reason, health_changed_at=at, healthcheck=check)
    )
    assert (state.tone, state.label, state.since) == (tone, label, at)


@pytest.mark.parametrize(
    ("icon", "shown"),
    [
        (None, "/icon/app.svg"),
        ("", "/icon/app.svg"),
        ("/icon/code.svg", "/icon/code.svg"),
        ("/emojis/1f4dd.png", "/emojis/1f4dd.png"),
        ("https://cdn.example.com/app.png", "https://cdn.example.com/app.png"),
        ("data:image/svg+xml;base64,PHN2Zy8+", "data:image/svg+xml;base64,PHN2Zy8+"),
        ("javascript:alert(1)", "/icon/app.svg"),
        ("data:text/html,<script>", "/icon/app.svg"),
        ("icon.png", "/icon/app.svg"),
        ("http://[::1", "/icon/app.svg"),
    ],
)
def test_an_icon_is_loaded_as_given_when_it_is_an_image_address(
    icon: str | None, shown: str
) -> None:
    assert icon_source(icon) == shown


def test_the_built_in_icons_are_svg_and_unknown_names_get_the_generic_one() -> None:
    names = icon_names()
    assert {"app", "code", "terminal", "jupyter", "book"} <= set(names)
    for name in names:
        assert icon_svg(f"{name}.svg").startswith(b"<svg"), name
    assert icon_svg("vscode.svg") == icon_svg("code.svg")
    assert icon_svg("never-heard-of-it.svg") == icon_svg("azure.png") == icon_svg("app.svg")


def test_a_tile_links_where_the_app_opens() -> None:
    subdomain = app_tile(_app("code", display_name="VS Code"))
    assert (subdomain.name, subdomain.href, subdomain.slim) == (
        "VS Code",
        "https://code--dev--alice.apps.example.com/",
        True,  # Coder's default open_in
    )
    assert app_tile(_app("code", open_in="tab")).slim is False
    external = app_tile(_app("docs", external=True, url="https://coder.com/docs"))
    assert (external.href, external.external, external.slim) == (
        "https://coder.com/docs",
        True,
        False,
    )
    command = app_tile(_app("shell", url=None, command="bash", access_url=None))
    assert command.href is None


def test_health_of_an_app_whose_agent_is_away_reads_as_last_known() -> None:
    check = Healthcheck("http://localhost:8080/healthz", 5, 3)
    checked = {"health": "healthy", "health_changed_at": T0, "healthcheck": check}
    assert app_tile(_app("code", agent_state="connected", **checked)).health_last_known is False
    for away in ("connecting", "disconnected", "timeout"):
        assert app_tile(_app("code", agent_state=away, **checked)).health_last_known is True
    assert app_tile(_app("docs", agent_state="disconnected")).health_last_known is False


def test_apps_show_in_order_then_name_and_hidden_ones_do_not() -> None:
    apps = (
        _app("zeta"),
        _app("alpha", display_name="Alpha"),
        _app("first", order=-1),
        _app("secret", hidden=True),
        _app("other-agent", agent="gpu"),
    )
    [view] = workspace_views("alice", [_workspace(*apps)], [_agent()], [], PORTS)
    [agent] = view.agents
    assert [tile.slug for tile in agent.apps] == ["first", "alpha", "zeta"]


def test_the_port_box_lists_listening_and_shared_ports_with_their_urls() -> None:
    agent = _agent("main", ListeningPort(3000, "node"), ListeningPort(80, ""))
    shares = [
        SharedPort("alice", "dev", "main", 3000, "public"),
        SharedPort("alice", "dev", "main", 9000, "authenticated"),  # shared, not listening
        SharedPort("alice", "dev", "gpu", 5000, "public"),  # another agent's
        SharedPort("bob", "dev", "main", 7000, "public"),  # another workspace's
    ]
    [view] = workspace_views("alice", [_workspace()], [agent], shares, PORTS)
    rows = [
        (row.port, row.process, row.listening, row.share, row.href) for row in view.agents[0].ports
    ]
    assert rows == [
        (80, "", True, "owner", "https://0080--main--dev--alice.apps.example.com/"),
        (3000, "node", True, "public", "https://3000--main--dev--alice.apps.example.com/"),
        (9000, "", False, "authenticated", "https://9000--main--dev--alice.apps.example.com/"),
    ]
    [without] = workspace_views("alice", [_workspace()], [agent], shares, NO_PORTS)
    assert {row.href for row in without.agents[0].ports} == {None}


def test_an_admin_sees_whose_workspace_it_is() -> None:
    views = workspace_views(
        "admin",
        [_workspace(), _workspace(owner="bob")],
        [_agent(), _agent(owner="bob")],
        [],
        PORTS,
    )
    assert [(view.owner, view.mine, view.anchor) for view in views] == [
        ("alice", False, "ws--alice--dev"),
        ("bob", False, "ws--bob--dev"),
    ]
    assert views[1].agents[0].anchor == "ws--bob--dev--main"


def test_shared_ports_link_to_their_port_urls() -> None:
    shares = [SharedPort("bob", "lab", "main", 8888, "public")]
    [link] = shared_port_links(shares, PORTS)
    assert link.href == "https://8888--main--lab--bob.apps.example.com/"
    assert shared_port_links(shares, NO_PORTS) == []
