"""What the workspaces page shows, made from the store's records with no I/O: each workspace
with its agents, each agent with its app tiles and its "Port forward" box, and what others
share with the viewer (SPEC §13). The templates only lay these out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from templater.model.hostnames import HostnameError, WildcardPattern, port_label
from templater.model.records import (
    AGENT_CONNECTED,
    AgentRecord,
    AppRecord,
    PortShare,
    SharedPort,
    WorkspaceState,
)
from templater.server.dashboard.icons import icon_source

_HEALTH_TONES = {"healthy": "good", "unhealthy": "bad", "initializing": "wait"}
_AGENT_TONES = {"connected": "good", "connecting": "wait", "disconnected": "bad", "timeout": "bad"}


@dataclass(frozen=True, slots=True)
class State:
    """A coloured state: its ``tone`` (a CSS class: good, bad, wait, none), the words shown, and
    since when (None: not known)."""

    tone: str
    label: str
    since: datetime | None


@dataclass(frozen=True, slots=True)
class AppTile:
    name: str
    slug: str
    icon: str
    href: str | None
    """None for an app that has no URL to open (a command app). Apps open in a new tab."""
    slim: bool
    """``open_in = "slim-window"``: a window without the browser's tabs and toolbars."""
    external: bool
    share: str
    health: State
    health_last_known: bool
    """The app's agent is not connected: its health is as it was last reported (SPEC §8)."""
    tooltip: str | None
    owner: str
    workspace: str


@dataclass(frozen=True, slots=True)
class PortRow:
    port: int
    process: str
    listening: bool
    share: str
    """``owner`` (not shared), ``authenticated`` or ``public``."""
    href: str | None
    """Its port URL; None without a wildcard access URL."""


@dataclass(frozen=True, slots=True)
class AgentView:
    name: str
    anchor: str
    """The element id of the agent's section, unique on the page."""
    state: State
    os: str | None
    arch: str | None
    version: str | None
    apps: tuple[AppTile, ...]
    ports: tuple[PortRow, ...]


@dataclass(frozen=True, slots=True)
class WorkspaceView:
    owner: str
    name: str
    anchor: str
    agents: tuple[AgentView, ...]
    mine: bool
    """The viewer's own workspace (an admin sees others' too)."""


@dataclass(frozen=True, slots=True)
class SharedPortLink:
    shared: SharedPort
    href: str


@dataclass(frozen=True, slots=True)
class Ports:
    """How port URLs are made on this deployment: None without a wildcard access URL."""

    wildcard: WildcardPattern | None
    access_url: str

    def url(self, port: int, https: bool, agent: str, workspace: str, owner: str) -> str | None:
        """The port's URL, or None when there are no port URLs here or the names cannot make
        one (a name that is not a DNS label part)."""
        if self.wildcard is None:
            return None
        try:
            label = port_label(port, https, agent, workspace, owner)
        except HostnameError:
            return None
        return self.wildcard.app_origin(label, self.access_url) + "/"


def app_health(app: AppRecord) -> State:
    """``healthy``, ``unhealthy: {reason}``, ``initializing``, or "no healthcheck" (the store's
    ``disabled``, which would read as if the app were off)."""
    if app.health == "disabled":
        return State("none", "no healthcheck", None)
    label = app.health
    if app.health == "unhealthy" and app.health_reason:
        label = f"unhealthy: {app.health_reason}"
    return State(_HEALTH_TONES.get(app.health, "none"), label, app.health_changed_at)


def agent_state(agent: AgentRecord) -> State:
    return State(_AGENT_TONES.get(agent.state, "none"), agent.state, agent.state_changed_at)


def app_tile(app: AppRecord) -> AppTile:
    href = app.url if app.external else app.access_url
    return AppTile(
        name=app.display_name or app.slug,
        slug=app.slug,
        icon=icon_source(app.icon),
        href=href,
        slim=app.open_in in (None, "slim-window") and not app.external,
        external=app.external,
        share=app.share,
        health=app_health(app),
        health_last_known=app.health != "disabled" and app.agent_state != AGENT_CONNECTED,
        tooltip=app.tooltip,
        owner=app.owner,
        workspace=app.workspace,
    )


def _shown(apps: Iterable[AppRecord]) -> list[AppRecord]:
    """Apps as Coder orders them (by ``order``, then name), hidden ones left out."""
    return sorted(
        (app for app in apps if not app.hidden),
        key=lambda app: (app.order if app.order is not None else 0, app.display_name or app.slug),
    )


def _anchor(*parts: str) -> str:
    return "--".join(("ws", *parts))


def _port_rows(
    agent: AgentRecord, shares: Sequence[PortShare], ports: Ports, workspace: WorkspaceState
) -> tuple[PortRow, ...]:
    """The agent's listening ports and its shared ones (listening or not), by port."""
    levels = {share.port: share.share for share in shares if share.agent == agent.name}
    processes = {entry.port: entry.process for entry in agent.ports}
    return tuple(
        PortRow(
            port,
            processes.get(port, ""),
            port in processes,
            levels.get(port, "owner"),
            ports.url(port, False, agent.name, workspace.name, workspace.owner),
        )
        for port in sorted(processes.keys() | levels.keys())
    )


def workspace_views(
    viewer: str,
    workspaces: Sequence[WorkspaceState],
    agents: Sequence[AgentRecord],
    shares: Sequence[SharedPort],
    ports: Ports,
) -> list[WorkspaceView]:
    """Each workspace with its agents, in the order the store gave them, and each agent with its
    apps and ports. ``agents`` and ``shares`` may hold other workspaces' too."""
    by_workspace: dict[tuple[str, str], list[AgentRecord]] = {}
    for agent in agents:
        by_workspace.setdefault((agent.owner, agent.workspace), []).append(agent)
    shared: dict[tuple[str, str], list[PortShare]] = {}
    for share in shares:
        shared.setdefault((share.owner, share.workspace), []).append(
            PortShare(share.agent, share.port, share.share)
        )
    views = []
    for workspace in workspaces:
        key = (workspace.owner, workspace.name)
        agent_views = tuple(
            AgentView(
                name=agent.name,
                anchor=_anchor(workspace.owner, workspace.name, agent.name),
                state=agent_state(agent),
                os=agent.os,
                arch=agent.arch,
                version=agent.version,
                apps=tuple(
                    app_tile(app) for app in _shown(workspace.apps) if app.agent == agent.name
                ),
                ports=_port_rows(agent, shared.get(key, ()), ports, workspace),
            )
            for agent in sorted(by_workspace.get(key, ()), key=lambda agent: agent.name)
        )
        views.append(
            WorkspaceView(
                workspace.owner,
                workspace.name,
                _anchor(workspace.owner, workspace.name),
                agent_views,
                workspace.owner == viewer,
            )
        )
    return views


def shared_port_links(shares: Iterable[SharedPort], ports: Ports) -> list[SharedPortLink]:
    """Others' shared ports the viewer may open, with their URLs (none without port URLs)."""
    links = []
    for share in shares:
        href = ports.url(share.port, False, share.agent, share.workspace, share.owner)
        if href is not None:
            links.append(SharedPortLink(share, href))
    return links
