"""The registry's records, shared by the store, the HTTP API and the planner.

Plain frozen dataclasses: no database or HTTP types in them. A ``DesiredState`` is what an apply
asks for; the store answers with ``WorkspaceState`` and ``AppRecord`` (the desired specs plus what
the control plane keeps about them, such as health) and an ``ApplyResult``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta

HEALTH_DISABLED = "disabled"
"""The health of an app without a healthcheck."""
HEALTH_INITIALIZING = "initializing"
"""The health of an app with a healthcheck, from when it is created or replaced (or gets a new
healthcheck) until it is first checked."""

AGENT_STATES = ("connecting", "connected", "disconnected", "timeout")
"""A workspace agent's states (SPEC §11): ``connecting`` from when it is applied until it first
connects, ``connected``, ``disconnected`` (connected before, not now) and ``timeout``. Timeout is
never stored: an agent still ``connecting`` longer than its ``connection_timeout`` reads as
``timeout`` (as in Coder)."""
AGENT_CONNECTING, AGENT_CONNECTED, AGENT_DISCONNECTED, AGENT_TIMEOUT = AGENT_STATES

DEFAULT_CONNECTION_TIMEOUT = 120
"""Seconds an agent may take to connect for the first time (``coder_agent.connection_timeout``'s
default); 0 never times out."""


def agent_state(stored: str, changed_at: datetime, connection_timeout: int, now: datetime) -> str:
    """The state an agent reads as at ``now``: its stored state, except ``timeout`` for one still
    ``connecting`` more than ``connection_timeout`` seconds (when positive) after it was
    applied."""
    if (
        stored == AGENT_CONNECTING
        and connection_timeout > 0
        and now - changed_at > timedelta(seconds=connection_timeout)
    ):
        return AGENT_TIMEOUT
    return stored


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    role: str
    """``admin`` or ``member``."""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


USER_STATUSES = ("active", "suspended")
"""A user is ``active`` or ``suspended``: a suspended user's tokens and sessions do not work."""
USER_ACTIVE, USER_SUSPENDED = USER_STATUSES


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user as an admin lists them."""

    name: str
    role: str
    status: str
    """One of ``USER_STATUSES``."""
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An API token as its owner lists it: never its secret."""

    id: int
    name: str
    created_at: datetime
    expires_at: datetime | None
    """None for a token that does not expire."""
    last_used_at: datetime | None
    """When it last authenticated a request, to the minute; None when it never has."""


@dataclass(frozen=True, slots=True)
class BrowserSession:
    """A browser's sign-in: it lasts until it expires, is signed out or its user is suspended."""

    id: int
    user: User


@dataclass(frozen=True, slots=True)
class Healthcheck:
    url: str
    interval: int
    """Seconds between checks."""
    threshold: int
    """Consecutive failures before the app is unhealthy."""


@dataclass(frozen=True, slots=True)
class AgentSpec:
    name: str
    connection_timeout: int = DEFAULT_CONNECTION_TIMEOUT
    """Seconds the agent may take to connect for the first time before it reads as ``timeout``;
    0 never times out."""


@dataclass(frozen=True, slots=True)
class AppSpec:
    """One ``coder_app`` as applied: its attributes, the agent it belongs to, its subdomain label
    and the URL templater serves it at (the last two computed by the caller)."""

    slug: str
    agent: str
    url: str | None
    command: str | None
    display_name: str | None
    icon: str | None
    external: bool
    subdomain: bool
    share: str
    order: int | None
    hidden: bool
    open_in: str | None
    group: str | None
    tooltip: str | None
    healthcheck: Healthcheck | None
    subdomain_label: str | None
    access_url: str | None


APP_SPEC_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(AppSpec))
"""The names of AppSpec's fields, in order."""


@dataclass(frozen=True, slots=True)
class AppRecord(AppSpec):
    """A stored app: its spec, where it lives and its health.

    ``health_changed_at`` is when ``health`` last changed; None exactly when health is
    ``disabled``."""

    workspace: str
    owner: str
    health: str
    health_changed_at: datetime | None
    agent_state: str = AGENT_CONNECTING
    """The state of the app's agent (one of AGENT_STATES), as ``AgentRecord.state``."""
    agent_state_changed_at: datetime | None = None
    """Since when the agent is in that state (None only in records made without it)."""
    health_reason: str = ""
    """Why the app is in its health state, as its last change said (empty before any change)."""

    def spec(self) -> AppSpec:
        """The app as it was applied, without what the control plane keeps about it."""
        return AppSpec(**{name: getattr(self, name) for name in APP_SPEC_FIELDS})


@dataclass(frozen=True, slots=True)
class DesiredState:
    """What an apply asks for: a workspace's agents and apps, and the template files (name → text)
    and variables they were produced from."""

    source: dict[str, str]
    variables: dict[str, str]
    agents: tuple[AgentSpec, ...]
    apps: tuple[AppSpec, ...]


@dataclass(frozen=True, slots=True)
class WorkspaceState:
    """A stored workspace: agents by name, apps by slug (each sorted)."""

    name: str
    owner: str
    version: int
    source: dict[str, str]
    variables: dict[str, str]
    agents: tuple[AgentSpec, ...]
    apps: tuple[AppRecord, ...]
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What an apply changed, as addresses like ``agent.main`` and ``app.code-server`` (agents
    first, then apps, each sorted by name), and the workspace's version after it.

    The version moves whenever anything changed, the source or variables alone included; an apply
    that changes nothing leaves it, with every tuple empty."""

    version: int
    created: tuple[str, ...]
    updated: tuple[str, ...]
    replaced: tuple[str, ...]
    deleted: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HealthEvent:
    """A change of an app's health: to which state, why, and when."""

    owner: str
    workspace: str
    slug: str
    health: str
    reason: str
    at: datetime
    previous: str | None = None
    """The state it changed from, when known (as it happens; not in an app's history)."""


@dataclass(frozen=True, slots=True)
class AppRoute:
    """What the app router needs to serve an app: where it lives, who owns it, who may reach it
    and whether it is served at its own subdomain or at its path on the access URL."""

    owner: str
    workspace: str
    slug: str
    agent: str
    url: str
    """The app's URL inside the workspace, such as ``http://localhost:13337/?folder=/home``."""
    share: str
    subdomain: bool
    agent_id: int
    agent_state: str
    """The agent's stored state: ``connected`` when its control channel is open."""
    agent_since: datetime
    """When the agent's state last changed."""


@dataclass(frozen=True, slots=True)
class PortShare:
    """A port of a workspace's agent that its owner shared beyond themselves."""

    agent: str
    port: int
    share: str
    """``authenticated`` or ``public``."""


@dataclass(frozen=True, slots=True)
class SharedPort:
    """A shared port with the workspace it belongs to: what another user may open."""

    owner: str
    workspace: str
    agent: str
    port: int
    share: str
    """``authenticated`` or ``public``."""


@dataclass(frozen=True, slots=True)
class PortRoute:
    """What the app router needs to serve a port URL: the port's agent and level (``owner``
    unless the port is shared)."""

    owner: str
    workspace: str
    agent: str
    port: int
    share: str
    agent_id: int
    agent_state: str
    agent_since: datetime


@dataclass(frozen=True, slots=True)
class AgentRoute:
    """An agent as the router needs it to open a stream to its SSH server."""

    owner: str
    workspace: str
    agent: str
    agent_id: int
    agent_state: str
    agent_since: datetime


@dataclass(frozen=True, slots=True)
class AgentIdentity:
    """The agent an agent token belongs to: its row's id and its names."""

    agent_id: int
    owner: str
    workspace: str
    agent: str


@dataclass(frozen=True, slots=True)
class ListeningPort:
    """A port listening inside a workspace, as its agent reports it."""

    port: int
    process: str
    """The name of the process listening on it, empty when the agent cannot tell."""


@dataclass(frozen=True, slots=True)
class AgentRecord:
    """A stored agent: its state (one of AGENT_STATES, ``timeout`` computed when read) since
    ``state_changed_at``, what it said of itself when it last connected (None before), and the
    ports it reports listening (none unless connected)."""

    owner: str
    workspace: str
    name: str
    state: str
    state_changed_at: datetime
    version: str | None
    os: str | None
    arch: str | None
    hostname: str | None
    ports: tuple[ListeningPort, ...]
    ssh_host_key: str | None = None
    """Its SSH host public key (``ssh-ed25519 AAAA…``), None before it reported one."""


@dataclass(frozen=True, slots=True)
class AgentCheck:
    """An app whose healthcheck its agent runs: the app's slug, the healthcheck and the app's
    last known health."""

    slug: str
    url: str
    interval: int
    threshold: int
    health: str


@dataclass(frozen=True, slots=True)
class AgentEvent:
    """A change of an agent's state: to which state, and when."""

    owner: str
    workspace: str
    agent: str
    state: str
    at: datetime


@dataclass(frozen=True, slots=True)
class PortsEvent:
    """A change of the ports an agent reports listening: all of them, as they are now."""

    owner: str
    workspace: str
    agent: str
    ports: tuple[ListeningPort, ...]
