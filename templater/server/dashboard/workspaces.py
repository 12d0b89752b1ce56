"""The workspaces page (SPEC §13): the viewer's workspaces (an admin's: everyone's, or one
owner's), their agents, apps and ports, what others share with the viewer; the "Port forward"
box's two forms, and the events that keep the page live."""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations.
import hashlib
from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from templater.model.hostnames import MAX_PORT, MIN_PORT, WildcardPattern
from templater.model.levels import SHARE_LEVELS
from templater.server.dashboard.forms import (
    csrf_token,
    from_our_form,
    origin_of,
    read_form,
    refused,
)
from templater.server.dashboard.render import message, page, see_other
from templater.server.dashboard.view import (
    Ports,
    app_tile,
    shared_port_links,
    workspace_views,
)
from templater.server.dashboard.visitors import Visitors
from templater.server.events import EventBroker
from templater.server.router.routing import SHARE_PORT_PATH, SIGN_IN_PATH, same_host_path
from templater.server.store import NotFound, Store, StoreError

EVENTS_PATH = "/dashboard/events"
OPEN_PORT_PATH = "/ports/open"

_SHARE_WORDS = {
    "owner": "Owner only",
    "authenticated": "Authenticated users",
    "public": "Public (anyone)",
}
_SHARE_CHOICES = [(level, _SHARE_WORDS[level]) for level in SHARE_LEVELS]


def _port_number(text: str) -> int:
    """The port a form field names; 0 for anything that is not 1 to 5 ASCII digits."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 5 else 0


def workspaces_router(
    store: Store,
    visitors: Visitors,
    broker: EventBroker,
    access_url: str,
    wildcard: WildcardPattern | None,
    registry_changed: Callable[[], None],
) -> APIRouter:
    """The page and its forms; ``registry_changed`` is called after a port's share changed."""
    router = APIRouter(include_in_schema=False)
    secure = access_url.startswith("https:")
    origin = origin_of(access_url)
    ports = Ports(wildcard, access_url)

    def sign_in_first(request: Request) -> Response:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return see_other(f"{SIGN_IN_PATH}?{urlencode({'redirect': path})}")

    @router.get("/")
    def workspaces(request: Request, owner: Annotated[str | None, Query()] = None) -> Response:
        session = visitors.signed_in(request)
        if session is None:
            return see_other(SIGN_IN_PATH)
        user = session.user
        shown = (owner or None) if user.is_admin else user.name
        views = workspace_views(
            user.name,
            store.list_workspaces(shown),
            store.list_agents(shown, None),
            store.shared_ports(shown),
            ports,
        )
        shared_apps = [
            app_tile(app) for app in store.shared_apps(not_of=user.name) if not app.hidden
        ]
        # The page's script replaces the whole list when workspaces or agents come or go.
        anchors = " ".join(agent.anchor for view in views for agent in view.agents)
        shape = hashlib.sha256(
            " ".join([*(view.anchor for view in views), anchors]).encode()
        ).hexdigest()[:16]
        csrf, cookies = csrf_token(request, secure)
        if not user.is_admin:
            title = "Your workspaces"
        elif shown:
            title = f"Workspaces of {shown}"
        else:
            title = "All workspaces"
        return page(
            200,
            "workspaces.html",
            cookies,
            title=title,
            user=user,
            csrf=csrf,
            owner=shown if user.is_admin else None,
            owners=[record.name for record in store.list_users()] if user.is_admin else [],
            workspaces=views,
            shape=shape,
            port_urls=wildcard is not None,
            share_levels=_SHARE_CHOICES,
            back="/" + (f"?{urlencode({'owner': shown})}" if user.is_admin and shown else ""),
            shared_apps=[tile for tile in shared_apps if tile.href],
            shared_ports=shared_port_links(store.shared_ports(not_of=user.name), ports),
        )

    @router.get(OPEN_PORT_PATH)
    def open_port(
        request: Request,
        owner: Annotated[str, Query()] = "",
        workspace: Annotated[str, Query()] = "",
        agent: Annotated[str, Query()] = "",
        port: Annotated[str, Query()] = "",
        https: Annotated[str, Query()] = "",
    ) -> Response:
        """The "Port forward" box's Open: to the port's URL on the wildcard domain."""
        if wildcard is None:
            return message(
                404,
                "Port URLs are not available",
                "This server has no wildcard access URL (templater server "
                "--wildcard-access-url), so ports have no URLs here.",
            )
        number = _port_number(port)
        if not MIN_PORT <= number <= MAX_PORT:
            return message(
                400,
                "Not a port",
                f"{port!r} is not a port that can be opened: enter a number from {MIN_PORT} to "
                f"{MAX_PORT}.",
            )
        url = ports.url(number, bool(https), agent, workspace, owner)
        if url is None:
            return message(
                400,
                "No such port URL",
                f"{owner}/{workspace}.{agent} cannot be part of a port URL.",
            )
        return see_other(url)

    @router.post(SHARE_PORT_PATH)
    async def share_port(request: Request) -> Response:
        """Share a port, change its level, or make it the owner's only (``share=owner``); back
        to the page the form was on."""
        session = await run_in_threadpool(visitors.signed_in, request)
        if session is None:
            return sign_in_first(request)
        form = await read_form(request)
        if not from_our_form(request, form, origin):
            return message(403, "Not changed", refused(origin))
        user = session.user
        owner, workspace, agent = (form.get(key, "") for key in ("owner", "workspace", "agent"))
        port, share = form.get("port", ""), form.get("share", "")
        number = _port_number(port)
        if share not in SHARE_LEVELS or not 1 <= number <= MAX_PORT:
            return message(
                400,
                "Not changed",
                f"A port is shared as owner, authenticated or public, and is from 1 to {MAX_PORT}.",
            )
        if owner != user.name and not user.is_admin:
            return message(403, "Not changed", f"Only {owner} and admins share {owner}'s ports.")
        try:
            if share == "owner":
                await run_in_threadpool(store.unshare_port, owner, workspace, agent, number)
            else:
                await run_in_threadpool(store.share_port, owner, workspace, agent, number, share)
        except NotFound as problem:
            return message(404, "Not changed", str(problem))
        except StoreError as problem:
            return message(422, "Not changed", str(problem))
        registry_changed()
        return see_other(same_host_path(form.get("back")))

    @router.get(EVENTS_PATH)
    async def events(request: Request) -> Response:
        """The page's live updates: the events of ``/api/v1/events``, for the browser's session
        (an EventSource cannot send the API's token)."""
        session = await run_in_threadpool(visitors.signed_in, request)
        if session is None:
            return Response("sign in first\n", 401, media_type="text/plain")
        return StreamingResponse(
            broker.stream(session.user, session.id),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return router
