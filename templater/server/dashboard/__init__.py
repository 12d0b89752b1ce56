"""The web UI on the access URL (SPEC §13): signing in, and the workspaces page with its apps,
agents and ports, kept live by the events stream."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter

from templater.model.hostnames import WildcardPattern
from templater.server.dashboard.assets import assets_router
from templater.server.dashboard.signin import sign_in_router
from templater.server.dashboard.visitors import Visitors
from templater.server.dashboard.workspaces import EVENTS_PATH, OPEN_PORT_PATH, workspaces_router
from templater.server.events import EventBroker
from templater.server.router.sessions import SessionSigner
from templater.server.store import Store

__all__ = ["EVENTS_PATH", "OPEN_PORT_PATH", "dashboard_router"]


def dashboard_router(
    store: Store,
    signer: SessionSigner,
    broker: EventBroker,
    access_url: str,
    wildcard: WildcardPattern | None,
    on_session_end: Callable[[], None],
    registry_changed: Callable[[], None],
) -> APIRouter:
    """Every page of the dashboard. ``on_session_end`` and ``registry_changed`` tell the app
    router that what it keeps about sessions or ports is stale."""
    visitors = Visitors(store, signer)

    def session_ended(session: int) -> None:
        on_session_end()
        broker.end_streams_of_session(session)

    router = APIRouter(include_in_schema=False)
    router.include_router(
        sign_in_router(store, visitors, signer, access_url, wildcard, session_ended)
    )
    router.include_router(
        workspaces_router(store, visitors, broker, access_url, wildcard, registry_changed)
    )
    router.include_router(assets_router())
    return router
