"""Signing in with a browser (SPEC §6), on the access URL: the sign-in page, signing out, and
the auth-redirect that carries a sign-in over to an app host with a single-use ticket."""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations.
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from templater.model.hostnames import WildcardPattern
from templater.server.dashboard.forms import (
    csrf_token,
    from_our_form,
    origin_of,
    read_form,
    refused,
)
from templater.server.dashboard.render import message, page, see_other
from templater.server.dashboard.visitors import SESSION_HOST, Visitors
from templater.server.logs import note_user
from templater.server.router.routing import (
    AUTH_REDIRECT_PATH,
    SIGN_IN_PATH,
    SIGN_OUT_PATH,
    auth_redirect_target,
    same_host_path,
    with_ticket,
)
from templater.server.router.sessions import (
    ACCESS_COOKIE,
    SESSION_LIFETIME,
    TICKET_LIFETIME,
    SessionSigner,
    set_cookie,
)
from templater.server.store import Store


def _going(redirect: str) -> str:
    """Where a sign-in leads, in words for the sign-in page: the app's address when it is an
    app's sign-in, else the path on this server ("" for the dashboard itself)."""
    path, _, query = redirect.partition("?")
    if path == AUTH_REDIRECT_PATH:
        target = dict(parse_qsl(query)).get("redirect_uri", "")
        parts = urlsplit(target)
        return f"{parts.netloc}{parts.path}" if parts.netloc else target
    return "" if redirect == "/" else redirect


def sign_in_router(
    store: Store,
    visitors: Visitors,
    signer: SessionSigner,
    access_url: str,
    wildcard: WildcardPattern | None,
    on_session_end: Callable[[int], None],
) -> APIRouter:
    """The sign-in routes; ``on_session_end`` is called with a session's id after it ended (the
    app router's kept answers about it are stale, the page's events end)."""
    router = APIRouter(include_in_schema=False)
    secure = access_url.startswith("https:")
    origin = origin_of(access_url)

    def sign_in_page(
        status: int,
        redirect: str,
        csrf: str,
        cookies: list[str],
        username: str = "",
        problem: str | None = None,
    ) -> HTMLResponse:
        return page(
            status,
            "sign_in.html",
            cookies,
            user=None,
            redirect=redirect,
            going=_going(redirect),
            csrf=csrf,
            username=username,
            problem=problem,
        )

    @router.get(SIGN_IN_PATH)
    def sign_in_form(
        request: Request, redirect: Annotated[str | None, Query()] = None
    ) -> HTMLResponse:
        csrf, cookies = csrf_token(request, secure)
        return sign_in_page(200, same_host_path(redirect), csrf, cookies)

    @router.post(SIGN_IN_PATH)
    async def sign_in(request: Request) -> Response:
        form = await read_form(request)
        username, token = form.get("username", "").strip(), form.get("token", "").strip()
        redirect = same_host_path(form.get("redirect"))
        csrf, cookies = csrf_token(request, secure)
        if not from_our_form(request, form, origin):
            return sign_in_page(403, redirect, csrf, cookies, username, refused(origin))
        user = await run_in_threadpool(store.user_by_token, token) if token else None
        if user is None or user.name != username:
            problem = "That username and token do not match."
            return sign_in_page(401, redirect, csrf, cookies, username, problem)
        note_user(request, user.name)
        lifetime = timedelta(seconds=SESSION_LIFETIME)
        session = await run_in_threadpool(store.create_session, user.id, lifetime)
        cookie = signer.issue(session, SESSION_HOST)
        return see_other(redirect, set_cookie(ACCESS_COOKIE, cookie, secure))

    @router.post(SIGN_OUT_PATH)
    async def sign_out(request: Request) -> Response:
        if not from_our_form(request, await read_form(request), origin):
            return message(403, "Not signed out", refused(origin))
        session = await run_in_threadpool(visitors.signed_in, request)
        if session is not None:
            await run_in_threadpool(store.end_session, session.id)
            on_session_end(session.id)
        return see_other(SIGN_IN_PATH, set_cookie(ACCESS_COOKIE, "", secure, max_age=0))

    @router.get(AUTH_REDIRECT_PATH)
    def auth_redirect(request: Request, redirect_uri: Annotated[str, Query()] = "") -> Response:
        label = auth_redirect_target(redirect_uri, wildcard, access_url)
        if label is None:
            return message(
                400,
                "Not an app address",
                f"redirect_uri {redirect_uri!r} is not an app URL of this deployment; "
                "templater only signs you in to its own apps.",
            )
        session = visitors.signed_in(request)
        if session is None:
            back = f"{AUTH_REDIRECT_PATH}?{urlencode({'redirect_uri': redirect_uri})}"
            return see_other(f"{SIGN_IN_PATH}?{urlencode({'redirect': back})}")
        ticket = store.create_ticket(session.id, label, timedelta(seconds=TICKET_LIFETIME))
        return see_other(with_ticket(redirect_uri, ticket))

    return router
