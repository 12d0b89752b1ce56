"""Signing in with a browser (SPEC §6), on the access URL: the sign-in page, signing out, a page
of your apps, and the auth-redirect that carries a sign-in over to an app host with a
single-use ticket."""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations.
from datetime import timedelta
from html import escape
from typing import Annotated
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from templater.model.hostnames import WildcardPattern
from templater.model.records import User
from templater.server.logs import note_user
from templater.server.router.pages import html, page, sign_in_form
from templater.server.router.routing import (
    AUTH_REDIRECT_PATH,
    SIGN_IN_PATH,
    auth_redirect_target,
    same_host_path,
    with_ticket,
)
from templater.server.router.sessions import (
    ACCESS_COOKIE,
    TICKET_LIFETIME,
    SessionSigner,
    set_cookie,
)
from templater.server.store import Store

_SESSION_HOST = ""
"""Sessions on the access URL are signed for this host name (app hosts use their label)."""


def _reply(status: int, body: str, *cookies: str) -> HTMLResponse:
    response = HTMLResponse(body, status, headers={"Cache-Control": "no-store"})
    for cookie in cookies:
        response.headers.append("Set-Cookie", cookie)
    return response


def _see_other(location: str, *cookies: str) -> RedirectResponse:
    response = RedirectResponse(location, 303, headers={"Cache-Control": "no-store"})
    for cookie in cookies:
        response.headers.append("Set-Cookie", cookie)
    return response


def sign_in_router(
    store: Store, signer: SessionSigner, access_url: str, wildcard: WildcardPattern | None
) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    secure = access_url.startswith("https:")

    def signed_in(request: Request) -> User | None:
        cookie = request.cookies.get(ACCESS_COOKIE)
        name = signer.user(cookie, _SESSION_HOST) if cookie else None
        user = store.user_by_name(name) if name else None
        if user is not None:
            note_user(request, user.name)
        return user

    @router.get(SIGN_IN_PATH)
    def sign_in_page(redirect: Annotated[str | None, Query()] = None) -> HTMLResponse:
        return _reply(200, sign_in_form(same_host_path(redirect)))

    @router.post(SIGN_IN_PATH)
    async def sign_in(request: Request) -> Response:
        # A plain urlencoded form: parsed here rather than adding a multipart dependency.
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        username, token = form.get("username", "").strip(), form.get("token", "").strip()
        redirect = same_host_path(form.get("redirect"))
        user = await run_in_threadpool(store.user_by_token, token) if token else None
        if user is None or user.name != username:
            problem = "That username and token do not match."
            return _reply(401, sign_in_form(redirect, username, problem))
        note_user(request, user.name)
        session = signer.issue(user.name, _SESSION_HOST)
        return _see_other(redirect, set_cookie(ACCESS_COOKIE, session, secure))

    @router.post("/logout")
    def sign_out() -> RedirectResponse:
        return _see_other(SIGN_IN_PATH, set_cookie(ACCESS_COOKIE, "", secure, max_age=0))

    @router.get("/")
    def home(request: Request) -> Response:
        user = signed_in(request)
        if user is None:
            return _see_other(SIGN_IN_PATH)
        links = "".join(
            f'<li><a href="{escape(app.access_url)}">{escape(app.display_name or app.slug)}</a>'
            f" — {escape(app.workspace)} ({escape(app.health)})</li>"
            for app in store.list_apps(user.name)
            if app.access_url
        )
        body = (
            f"<p>Signed in as <strong>{escape(user.name)}</strong>.</p>"
            f"<ul>{links or '<li>You have no apps yet.</li>'}</ul>"
            '<form method="post" action="/logout"><button type="submit">Sign out</button></form>'
        )
        return _reply(200, html("Your apps", body))

    @router.get(AUTH_REDIRECT_PATH)
    def auth_redirect(request: Request, redirect_uri: Annotated[str, Query()] = "") -> Response:
        label = auth_redirect_target(redirect_uri, wildcard, access_url)
        if label is None:
            reply = page(
                400,
                "Not an app address",
                f"redirect_uri {redirect_uri!r} is not an app URL of this deployment; "
                "templater only signs you in to its own apps.",
            )
            return _reply(reply.status, reply.body.decode())
        user = signed_in(request)
        if user is None:
            back = f"{AUTH_REDIRECT_PATH}?{urlencode({'redirect_uri': redirect_uri})}"
            return _see_other(f"{SIGN_IN_PATH}?{urlencode({'redirect': back})}")
        ticket = store.create_ticket(user.id, label, timedelta(seconds=TICKET_LIFETIME))
        return _see_other(with_ticket(redirect_uri, ticket))

    return router
