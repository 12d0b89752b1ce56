"""Signing in with a browser (SPEC §6), on the access URL: the sign-in page, signing out, a page
of your apps, and the auth-redirect that carries a sign-in over to an app host with a
single-use ticket."""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations.
import hmac
import secrets
from collections.abc import Callable
from datetime import timedelta
from html import escape
from typing import Annotated
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from templater.model.hostnames import WildcardPattern
from templater.model.records import BrowserSession
from templater.server.logs import note_user
from templater.server.router.pages import html, page, sign_in_form
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

_SESSION_HOST = ""
"""Sessions on the access URL are signed for this host name (app hosts use their label)."""


CSRF_COOKIE = "templater_csrf"
"""A random value a browser gets with a form and must post back with it: a site that is not
templater cannot read it (SameSite=Lax keeps it off cross-site posts), so it cannot sign a
browser in or out (SPEC §15)."""
CSRF_FIELD = "csrf"


def _csrf_token(request: Request, secure: bool) -> tuple[str, list[str]]:
    """The browser's CSRF token, and the Set-Cookie value that gives it one when it has none."""
    token = request.cookies.get(CSRF_COOKIE, "")
    if len(token) == 43 and token.isascii():
        return token, []
    token = secrets.token_urlsafe(32)
    return token, [set_cookie(CSRF_COOKIE, token, secure)]


def _from_our_form(request: Request, form: dict[str, str], origin: str) -> bool:
    """Whether a posted form came from templater's own page: same origin (when the browser
    says), and the CSRF token of its cookie."""
    said = request.headers.get("origin")
    if said is not None and said.rstrip("/").lower() != origin:
        return False
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    cookie, posted = request.cookies.get(CSRF_COOKIE, ""), form.get(CSRF_FIELD, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), posted.encode())


async def _form(request: Request) -> dict[str, str]:
    # A plain urlencoded form: parsed here rather than adding a multipart dependency.
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace")))


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
    store: Store,
    signer: SessionSigner,
    access_url: str,
    wildcard: WildcardPattern | None,
    on_session_end: Callable[[], None] = lambda: None,
) -> APIRouter:
    """The sign-in routes; ``on_session_end`` is called after a session ends (the app router's
    kept answers about it are stale)."""
    router = APIRouter(include_in_schema=False)
    secure = access_url.startswith("https:")
    parts = urlsplit(access_url)
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    refused = (
        "This form did not come from templater's own page (a cross-site request, or a page "
        "from before the browser's cookies were cleared). Try again from this page."
    )

    def signed_in(request: Request) -> BrowserSession | None:
        cookie = request.cookies.get(ACCESS_COOKIE)
        session = signer.session(cookie, _SESSION_HOST) if cookie else None
        user = store.user_by_session(session) if session is not None else None
        if session is None or user is None:
            return None
        note_user(request, user.name)
        return BrowserSession(session, user)

    @router.get(SIGN_IN_PATH)
    def sign_in_page(
        request: Request, redirect: Annotated[str | None, Query()] = None
    ) -> HTMLResponse:
        csrf, cookies = _csrf_token(request, secure)
        return _reply(200, sign_in_form(same_host_path(redirect), csrf), *cookies)

    @router.post(SIGN_IN_PATH)
    async def sign_in(request: Request) -> Response:
        form = await _form(request)
        username, token = form.get("username", "").strip(), form.get("token", "").strip()
        redirect = same_host_path(form.get("redirect"))
        csrf, cookies = _csrf_token(request, secure)
        if not _from_our_form(request, form, origin):
            return _reply(403, sign_in_form(redirect, csrf, username, refused), *cookies)
        user = await run_in_threadpool(store.user_by_token, token) if token else None
        if user is None or user.name != username:
            problem = "That username and token do not match."
            return _reply(401, sign_in_form(redirect, csrf, username, problem))
        note_user(request, user.name)
        lifetime = timedelta(seconds=SESSION_LIFETIME)
        session = await run_in_threadpool(store.create_session, user.id, lifetime)
        cookie = signer.issue(session, _SESSION_HOST)
        return _see_other(redirect, set_cookie(ACCESS_COOKIE, cookie, secure))

    @router.post(SIGN_OUT_PATH)
    async def sign_out(request: Request) -> Response:
        if not _from_our_form(request, await _form(request), origin):
            reply = page(403, "Not signed out", refused, ("/", "Your apps"))
            return _reply(reply.status, reply.body.decode())
        session = await run_in_threadpool(signed_in, request)
        if session is not None:
            await run_in_threadpool(store.end_session, session.id)
            on_session_end()
        return _see_other(SIGN_IN_PATH, set_cookie(ACCESS_COOKIE, "", secure, max_age=0))

    @router.get("/")
    def home(request: Request) -> Response:
        session = signed_in(request)
        if session is None:
            return _see_other(SIGN_IN_PATH)
        user = session.user
        csrf, cookies = _csrf_token(request, secure)
        links = "".join(
            f'<li><a href="{escape(app.access_url)}">{escape(app.display_name or app.slug)}</a>'
            f" — {escape(app.workspace)} ({escape(app.health)})</li>"
            for app in store.list_apps(user.name)
            if app.access_url
        )
        body = (
            f"<p>Signed in as <strong>{escape(user.name)}</strong>.</p>"
            f"<ul>{links or '<li>You have no apps yet.</li>'}</ul>"
            '<form method="post" action="/logout">'
            f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(csrf)}">'
            '<button type="submit">Sign out</button></form>'
        )
        return _reply(200, html("Your apps", body), *cookies)

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
        session = signed_in(request)
        if session is None:
            back = f"{AUTH_REDIRECT_PATH}?{urlencode({'redirect_uri': redirect_uri})}"
            return _see_other(f"{SIGN_IN_PATH}?{urlencode({'redirect': back})}")
        ticket = store.create_ticket(session.id, label, timedelta(seconds=TICKET_LIFETIME))
        return _see_other(with_ticket(redirect_uri, ticket))

    return router
