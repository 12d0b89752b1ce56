"""The control plane's HTTP API (``/api/v1``): users and their API tokens, workspaces, their
agents (tokens and states), apps and shared ports.

Every route but health and the OpenAPI document authenticates, with ``Authorization: Bearer``
or the ``Templater-Session-Token`` header; members see and change only their own workspaces,
admins everything. Errors are JSON ``{"message": ...}``.
"""

# No `from __future__ import annotations` here: FastAPI reads the routes' annotations at
# definition time, and the dependency they name is local to create_app.
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from templater.model.hostnames import (
    HostnameError,
    WildcardPattern,
    app_label,
    label_overflow,
    path_app_url,
)
from templater.model.limits import DEFAULT_LIMITS, MemberLimits
from templater.model.records import (
    USER_STATUSES,
    USER_SUSPENDED,
    AgentRecord,
    AgentSpec,
    ApplyResult,
    AppRecord,
    AppSpec,
    DesiredState,
    HealthEvent,
    PortShare,
    TokenRecord,
    User,
    UserRecord,
    WorkspaceState,
)
from templater.server.credentials import BAD_TOKEN, NO_TOKEN, SESSION_HEADER, presented_token
from templater.server.events import EventBroker
from templater.server.logs import AccessLog, event_log, note_user
from templater.server.store import (
    SELF,
    NotFound,
    Store,
    StoreError,
    StoreUnavailable,
    VersionConflict,
)

TokenId = Annotated[int, Path(ge=1, le=2**63 - 1)]
"""A token's id: what the databases' integers hold."""
_WORKSPACE_NAME = re.compile(r"[a-z0-9](-?[a-z0-9])*")


@dataclass(frozen=True, slots=True)
class Deployment:
    """Where the control plane serves apps: its access URL and the wildcard for subdomains."""

    access_url: str
    wildcard: WildcardPattern | None = None

    def locate(self, app: AppSpec, workspace: str, owner: str) -> AppSpec:
        """The app with its hostname label and the URL templater serves it at."""
        if app.external:
            return replace(app, subdomain_label=None, access_url=app.url)
        if app.command is not None and app.url is None:
            return replace(app, subdomain_label=None, access_url=None)
        if app.subdomain and self.wildcard is not None:
            label = app_label(app.slug, workspace, owner)
            origin = self.wildcard.app_origin(label, self.access_url)
            return replace(app, subdomain_label=label, access_url=f"{origin}/")
        return replace(
            app,
            subdomain_label=None,
            access_url=path_app_url(self.access_url, owner, workspace, app.slug),
        )


@dataclass(frozen=True, slots=True)
class ApplyRequest:
    """An apply: the state the workspace must have, and the version it was planned against
    (0 when the workspace did not exist)."""

    expected_version: int
    source: dict[str, str]
    variables: dict[str, str]
    agents: tuple[AgentSpec, ...]
    apps: tuple[AppSpec, ...]


@dataclass(frozen=True, slots=True)
class NewUser:
    name: str
    admin: bool = False


@dataclass(frozen=True, slots=True)
class CreatedUser:
    name: str
    role: str
    token: str


@dataclass(frozen=True, slots=True)
class UserStatus:
    """``suspended`` (the user's tokens and sessions stop working) or ``active``."""

    status: str


MAX_TOKEN_LIFETIME = 10 * 365 * 24 * 3600
"""The longest lifetime a token may be given, in seconds (ten years)."""


@dataclass(frozen=True, slots=True)
class NewToken:
    """A token to make: its name, and its lifetime in seconds (none: until revoked)."""

    name: str = ""
    lifetime_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class CreatedToken:
    """A new token: its secret is shown only this once."""

    id: int
    name: str
    created_at: datetime
    expires_at: datetime | None
    token: str


@dataclass(frozen=True, slots=True)
class Destroyed:
    deleted: bool


@dataclass(frozen=True, slots=True)
class ShareRequest:
    """The level to share a port at: ``authenticated`` or ``public``."""

    share: str


@dataclass(frozen=True, slots=True)
class Health:
    status: str


@dataclass(frozen=True, slots=True)
class AgentToken:
    """A new agent token (shown only this once); the agent's previous token no longer works."""

    token: str


def _fail(status: int, message: str) -> HTTPException:
    return HTTPException(status_code=status, detail=message)


@dataclass(frozen=True, slots=True)
class AppHealth:
    """An app's health now, and its latest changes, newest first."""

    health: str
    changed_at: datetime | None
    transitions: list[HealthEvent]


def create_app(
    store: Store,
    deployment: Deployment,
    on_registry_change: Callable[[], None] | None = None,
    on_agents_changed: Callable[[], None] | None = None,
    limits: MemberLimits = DEFAULT_LIMITS,
) -> FastAPI:
    """The API on ``store``. ``on_registry_change`` is called (in a worker thread) after every successful apply, destroy,
    share and unshare of a port: what the app router caches about apps and ports may be stale.
    ``on_agents_changed`` is called (in a worker thread) after every successful apply, destroy
    and agent token issued: agents may be gone or have new tokens, and their apps changed, so
    their connections need checking again. An apply that would take its workspace's owner past
    ``limits`` is refused (422, the message naming the limit and the flag that raises it)."""
    broker = EventBroker()

    def registry_changed() -> None:
        if on_registry_change is not None:
            on_registry_change()

    def agents_changed() -> None:
        if on_agents_changed is not None:
            on_agents_changed()

    app = FastAPI(
        title="templater control plane",
        version="1",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.events = broker
    app.add_middleware(AccessLog)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if error.status_code == 401 else None
        return JSONResponse({"message": str(error.detail)}, error.status_code, headers=headers)

    @app.exception_handler(StoreUnavailable)
    async def unavailable(request: Request, error: StoreUnavailable) -> JSONResponse:
        return JSONResponse({"message": f"the registry is unavailable: {error}"}, 503)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors()
        ]
        return JSONResponse({"message": "invalid request: " + "; ".join(problems)}, 422)

    def current_user(
        request: Request,
        authorization: Annotated[str | None, Header()] = None,
        session_token: Annotated[str | None, Header(alias=SESSION_HEADER)] = None,
    ) -> User:
        token = presented_token(authorization, session_token)
        if token is None:
            raise _fail(401, NO_TOKEN)
        user = store.user_by_token(token)
        if user is None:
            raise _fail(401, BAD_TOKEN)
        note_user(request, user.name)
        return user

    Authenticated = Annotated[User, Depends(current_user)]

    def may_act_for(user: User, owner: str) -> None:
        if user.role != "admin" and user.name != owner:
            raise _fail(403, f"{user.name} can only see and change their own workspaces")

    def admin_only(user: User, what: str) -> None:
        if user.role != "admin":
            raise _fail(403, f"only admins {what}")

    def account(user: User, name: str) -> User:
        """The user ``name`` (``me``: the caller), whose tokens ``user`` may see and change:
        their own, or anyone's for an admin."""
        if name in (SELF, user.name):
            return user
        if user.role != "admin":
            raise _fail(403, f"{user.name} can only see and change their own tokens")
        found = store.user_by_name(name)
        if found is None:
            raise _fail(404, f"there is no user {name}")
        return found

    async def credentials_ended(name: str) -> None:
        """What the app router and the event streams keep about the user's credentials is
        stale: drop it in every process. (The broker is the event loop's only.)"""
        await run_in_threadpool(registry_changed)
        broker.end_streams_of(name)

    @app.get("/api/v1/health", tags=["health"])
    def health() -> Health:
        return Health("ok")

    @app.get("/api/v1/users/me", tags=["users"])
    def me(user: Authenticated) -> User:
        return user

    @app.get("/api/v1/users", tags=["users"])
    def list_users(user: Authenticated) -> list[UserRecord]:
        admin_only(user, "list users")
        return store.list_users()

    @app.put("/api/v1/users/{name}/status", tags=["users"])
    async def set_user_status(name: str, request: UserStatus, user: Authenticated) -> UserRecord:
        """Suspend a user (their API tokens, browser sessions and app cookies stop working at
        once) or make them active again (their tokens work again; they sign in anew)."""
        admin_only(user, "suspend and activate users")
        if request.status not in USER_STATUSES:
            raise _fail(422, f"status must be one of {', '.join(USER_STATUSES)}")
        if name in (SELF, user.name):
            raise _fail(422, "you cannot suspend or activate yourself")
        try:
            changed = await run_in_threadpool(
                store.set_suspended, name, request.status == USER_SUSPENDED
            )
        except NotFound as problem:
            raise _fail(404, str(problem)) from None
        event_log.info("user-status name=%s status=%s user=%s", name, changed.status, user.name)
        await credentials_ended(name)
        return changed

    @app.get("/api/v1/users/{name}/tokens", tags=["tokens"])
    def list_tokens(name: str, user: Authenticated) -> list[TokenRecord]:
        """The user's API tokens (``me``: yours), with when each was made, expires and was last
        used; never their secrets."""
        return store.list_tokens(account(user, name).id)

    @app.post("/api/v1/users/{name}/tokens", status_code=201, tags=["tokens"])
    def create_token(name: str, new: NewToken, user: Authenticated) -> CreatedToken:
        owner = account(user, name)
        lifetime = new.lifetime_seconds
        if lifetime is not None and not 0 < lifetime <= MAX_TOKEN_LIFETIME:
            raise _fail(422, f"lifetime_seconds must be 1 to {MAX_TOKEN_LIFETIME} (ten years)")
        try:
            record, token = store.add_token(
                owner.id, new.name, timedelta(seconds=lifetime) if lifetime is not None else None
            )
        except StoreUnavailable:
            raise
        except StoreError as problem:
            raise _fail(422, str(problem)) from None
        event_log.info("token-create name=%s id=%d user=%s", owner.name, record.id, user.name)
        return CreatedToken(record.id, record.name, record.created_at, record.expires_at, token)

    @app.delete("/api/v1/users/{name}/tokens/{token_id}", tags=["tokens"])
    async def revoke_token(name: str, token_id: TokenId, user: Authenticated) -> Destroyed:
        """End a token at once, on every process of the server."""
        owner = await run_in_threadpool(account, user, name)
        if not await run_in_threadpool(store.revoke_token, owner.id, token_id):
            raise _fail(404, f"{owner.name} has no token {token_id}")
        event_log.info("token-revoke name=%s id=%d user=%s", owner.name, token_id, user.name)
        await credentials_ended(owner.name)
        return Destroyed(True)

    @app.post("/api/v1/users", status_code=201, tags=["users"])
    def create_user(new: NewUser, user: Authenticated) -> CreatedUser:
        admin_only(user, "create users")
        try:
            created, token = store.create_user(new.name, "admin" if new.admin else "member")
        except StoreUnavailable:
            raise
        except StoreError as problem:
            raise _fail(409 if "exists" in str(problem) else 422, str(problem)) from None
        return CreatedUser(created.name, created.role, token)

    @app.get("/api/v1/workspaces", tags=["workspaces"])
    def list_workspaces(
        user: Authenticated, owner: Annotated[str | None, Query()] = None
    ) -> list[WorkspaceState]:
        if user.role != "admin":
            may_act_for(user, owner or user.name)
            owner = user.name
        return store.list_workspaces(owner)

    @app.get("/api/v1/workspaces/{owner}/{name}", tags=["workspaces"])
    def get_workspace(owner: str, name: str, user: Authenticated) -> WorkspaceState:
        may_act_for(user, owner)
        state = store.get_workspace(owner, name)
        if state is None:
            raise _fail(404, f"there is no workspace {owner}/{name}")
        return state

    @app.put("/api/v1/workspaces/{owner}/{name}", tags=["workspaces"])
    def apply(owner: str, name: str, request: ApplyRequest, user: Authenticated) -> ApplyResult:
        may_act_for(user, owner)
        if not _WORKSPACE_NAME.fullmatch(name) or len(name) > 32:
            raise _fail(
                422,
                f'workspace name "{name}" must be 1 to 32 lower-case letters and digits joined '
                "by single hyphens: it becomes part of app hostnames",
            )
        try:
            apps = tuple(deployment.locate(spec, name, owner) for spec in request.apps)
        except HostnameError as problem:
            raise _fail(422, f"cannot give an app a hostname: {problem}") from None
        for spec in apps:
            over = label_overflow(spec.subdomain_label or "")
            if over:
                raise _fail(
                    422,
                    f'app "{spec.slug}": hostname label "{spec.subdomain_label}" is {over} '
                    f"character{'' if over == 1 else 's'} over the 63 a DNS label may have; "
                    "shorten the slug, the workspace name or the username",
                )
        desired = DesiredState(request.source, request.variables, request.agents, apps)
        try:
            result = store.apply(owner, name, request.expected_version, desired, limits)
        except VersionConflict as problem:
            raise _fail(409, str(problem)) from None
        except StoreUnavailable:
            raise
        except StoreError as problem:
            raise _fail(422, str(problem)) from None
        event_log.info(
            "apply owner=%s workspace=%s version=%d created=%d updated=%d replaced=%d "
            "deleted=%d user=%s",
            owner,
            name,
            result.version,
            len(result.created),
            len(result.updated),
            len(result.replaced),
            len(result.deleted),
            user.name,
        )
        registry_changed()
        agents_changed()
        return result

    @app.delete("/api/v1/workspaces/{owner}/{name}", tags=["workspaces"])
    def destroy(
        owner: str,
        name: str,
        user: Authenticated,
        expected_version: Annotated[int | None, Query()] = None,
    ) -> Destroyed:
        may_act_for(user, owner)
        try:
            deleted = store.destroy(owner, name, expected_version)
        except VersionConflict as problem:
            raise _fail(409, str(problem)) from None
        if not deleted:
            raise _fail(404, f"there is no workspace {owner}/{name}")
        event_log.info("destroy owner=%s workspace=%s user=%s", owner, name, user.name)
        registry_changed()
        agents_changed()
        return Destroyed(True)

    @app.post(
        "/api/v1/workspaces/{owner}/{name}/agents/{agent}/token", status_code=201, tags=["agents"]
    )
    def issue_agent_token(owner: str, name: str, agent: str, user: Authenticated) -> AgentToken:
        """A new token for the agent, which `templater agent` connects with; the agent's
        previous token ends (and any connection made with it)."""
        may_act_for(user, owner)
        try:
            token = store.issue_agent_token(owner, name, agent)
        except NotFound as problem:
            raise _fail(404, str(problem)) from None
        event_log.info(
            "agent-token owner=%s workspace=%s agent=%s user=%s", owner, name, agent, user.name
        )
        agents_changed()
        return AgentToken(token)

    @app.get("/api/v1/workspaces/{owner}/{name}/agents", tags=["agents"])
    def workspace_agents(owner: str, name: str, user: Authenticated) -> list[AgentRecord]:
        """The workspace's agents with their states (``connecting``, ``connected``,
        ``disconnected``, ``timeout``), since when, and their listening ports."""
        may_act_for(user, owner)
        found = store.list_agents(owner, name)
        if not found and store.get_workspace(owner, name) is None:
            raise _fail(404, f"there is no workspace {owner}/{name}")
        return found

    @app.get("/api/v1/agents", tags=["agents"])
    def list_agents(
        user: Authenticated,
        owner: Annotated[str | None, Query()] = None,
        workspace: Annotated[str | None, Query()] = None,
    ) -> list[AgentRecord]:
        """The agents of every workspace you may see (admins: everyone's), with their states."""
        if user.role != "admin":
            may_act_for(user, owner or user.name)
            owner = user.name
        return store.list_agents(owner, workspace)

    @app.get("/api/v1/workspaces/{owner}/{name}/ports", tags=["ports"])
    def list_ports(owner: str, name: str, user: Authenticated) -> list[PortShare]:
        """The workspace's shared ports, by agent and port; every other port is owner-only."""
        may_act_for(user, owner)
        shares = store.port_shares(owner, name)
        if shares is None:
            raise _fail(404, f"there is no workspace {owner}/{name}")
        return shares

    @app.put("/api/v1/workspaces/{owner}/{name}/ports/{agent}/{port}", tags=["ports"])
    def share_port(
        owner: str, name: str, agent: str, port: int, request: ShareRequest, user: Authenticated
    ) -> PortShare:
        """Share a port of an agent with signed-in users (``authenticated``) or everyone
        (``public``), or change the level it is shared at."""
        may_act_for(user, owner)
        try:
            shared = store.share_port(owner, name, agent, port, request.share)
        except NotFound as problem:
            raise _fail(404, str(problem)) from None
        except StoreUnavailable:
            raise
        except StoreError as problem:
            raise _fail(422, str(problem)) from None
        registry_changed()
        return shared

    @app.delete("/api/v1/workspaces/{owner}/{name}/ports/{agent}/{port}", tags=["ports"])
    def unshare_port(
        owner: str, name: str, agent: str, port: int, user: Authenticated
    ) -> Destroyed:
        """Make a port owner-only again."""
        may_act_for(user, owner)
        if not store.unshare_port(owner, name, agent, port):
            raise _fail(404, f"port {port} of agent {agent} in {owner}/{name} is not shared")
        registry_changed()
        return Destroyed(True)

    @app.get("/api/v1/workspaces/{owner}/{name}/apps/{slug}/health", tags=["apps"])
    def app_health(owner: str, name: str, slug: str, user: Authenticated) -> AppHealth:
        may_act_for(user, owner)
        found = store.app_health(owner, name, slug)
        if found is None:
            raise _fail(404, f"workspace {owner}/{name} has no app {slug}")
        current, history = found
        return AppHealth(current.health, current.health_changed_at, history)

    @app.get(
        "/api/v1/events",
        tags=["events"],
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def events(user: Authenticated) -> StreamingResponse:
        """Server-sent events: an app's health changed (``event: health``), an agent's state
        changed (``event: agent``), for the workspaces you may see."""
        return StreamingResponse(
            broker.stream(user),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.get("/api/v1/apps", tags=["apps"])
    def list_apps(
        user: Authenticated,
        owner: Annotated[str | None, Query()] = None,
        workspace: Annotated[str | None, Query()] = None,
    ) -> list[AppRecord]:
        if user.role != "admin":
            may_act_for(user, owner or user.name)
            owner = user.name
        return store.list_apps(owner, workspace)

    return app
