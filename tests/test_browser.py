"""A real browser (Debian's chromium, driven by Playwright) against the real server: signing in to
subdomain apps through auth-redirect, the HttpOnly app cookie, and the CORS matrix between apps
of the same user and of another user (SPEC §6, §7; Coder's port-forwarding docs).

Alice owns apps A and B in workspace ``one`` and C in workspace ``two`` (share ``owner``); Bob
owns D in workspace ``three`` (share ``authenticated``, so Alice may open it too and it answers
her with 200: a fetch to it that fails was blocked by the browser for CORS, not by templater).
Each user has their own browser with an empty profile."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Playwright, sync_playwright

from .agents import agents_running
from .chromium import WILDCARD, browser, serving_browsers
from .conftest import needs_chromium
from .test_server import Server, app_json, apply_apps, new_user
from .upstreams import PageApp

pytestmark = needs_chromium

APP_COOKIE = "templater_app_session"
TICKET = "templater_ticket"

# app name -> (owner, workspace, slug, share)
APPS = {
    "A": ("alice", "one", "alpha", "owner"),
    "B": ("alice", "one", "bravo", "owner"),
    "C": ("alice", "two", "charlie", "owner"),
    "D": ("bob", "three", "delta", "authenticated"),
}
ALICE_APPS = ("A", "B", "C")

FETCH = """async ([url, credentials]) => {
    try {
        const response = await fetch(url, {credentials});
        return {ok: true, status: response.status, body: await response.text()};
    } catch (error) {
        return {ok: false, error: `${error.name}: ${error.message}`};
    }
}"""


@dataclass
class Deployment:
    server: Server
    port: int
    tokens: dict[str, str]

    @property
    def access_url(self) -> str:
        return f"http://localhost:{self.port}"

    def origin(self, app: str) -> str:
        owner, workspace, slug, _ = APPS[app]
        return f"http://{slug}--{workspace}--{owner}.{WILDCARD}:{self.port}"

    def url(self, app: str) -> str:
        return self.origin(app) + "/"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("browser")
    upstreams = {name: PageApp(name) for name in APPS}
    for server, port in serving_browsers(tmp):
        tokens = {"alice": new_user(server, "alice"), "bob": new_user(server, "bob")}
        workspaces: dict[tuple[str, str], list[Any]] = {}
        for name, (owner, workspace, slug, share) in APPS.items():
            app = app_json(slug, upstreams[name].port)
            app["share"] = share
            workspaces.setdefault((owner, workspace), []).append(app)
        for (owner, workspace), apps in workspaces.items():
            apply_apps(server, tokens[owner], owner, workspace, apps)
        with agents_running(
            server, *((tokens[owner], owner, workspace) for owner, workspace in workspaces)
        ):
            yield Deployment(server, port, tokens)
    for upstream in upstreams.values():
        upstream.close()


@contextmanager
def _playwright() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


def _redirects(page: Page, response: Any) -> list[str]:
    """The URLs a navigation went through, first to last."""
    assert response is not None, f"no response for {page.url}"
    chain = []
    request = response.request
    while request is not None:
        chain.append(request.url)
        request = request.redirected_from
    return chain[::-1]


def _sign_in(deployment: Deployment, page: Page, user: str, app: str) -> None:
    """Open ``app`` anonymously and sign in through the real flow: the app host sends the browser
    to auth-redirect on the access URL, that to /login; the form's answer comes back to the app
    with a ticket, which the app host trades for its cookie."""
    opened = _redirects(page, page.goto(deployment.url(app)))
    auth_redirect = f"{deployment.access_url}/api/v1/applications/auth-redirect?"
    assert opened[0] == deployment.url(app)
    assert opened[1].startswith(auth_redirect), opened
    assert urlsplit(page.url)[:3] == ("http", f"localhost:{deployment.port}", "/login"), opened
    page.fill("#username", user)
    page.fill("#token", deployment.tokens[user])
    with page.expect_navigation(url=deployment.url(app)) as navigation:
        page.click("button[type=submit]")
    signed_in = _redirects(page, navigation.value)
    assert signed_in[0] == f"{deployment.access_url}/login", signed_in
    assert signed_in[1].startswith(auth_redirect), signed_in
    assert signed_in[2].startswith(f"{deployment.url(app)}?{TICKET}="), signed_in
    assert signed_in[-1] == deployment.url(app), signed_in
    assert page.inner_text("h1") == f"App {app}"


def _open_signed_in(deployment: Deployment, page: Page, app: str) -> None:
    """Open ``app`` in a browser already signed in on the access URL: it passes through
    auth-redirect with a ticket and lands on the app, without the sign-in page."""
    chain = _redirects(page, page.goto(deployment.url(app)))
    assert not any(urlsplit(url).path == "/login" for url in chain), chain
    assert any(f"{TICKET}=" in url for url in chain), chain
    assert page.url == deployment.url(app), chain
    assert page.inner_text("h1") == f"App {app}"


def _check_cookie(context: BrowserContext, page: Page, deployment: Deployment, app: str) -> None:
    host = urlsplit(deployment.origin(app)).hostname
    cookies = [c for c in context.cookies(deployment.url(app)) if c["name"] == APP_COOKIE]
    assert len(cookies) == 1, cookies
    cookie = cookies[0]
    assert (cookie["domain"], cookie["httpOnly"], cookie["sameSite"]) == (host, True, "Lax")
    assert APP_COOKIE not in page.evaluate("document.cookie")


def _fetch(page: Page, url: str, credentials: str = "include") -> dict[str, Any]:
    """``fetch(url, {credentials})`` from ``page``: ok, status and body when the page could read
    the response, else the error."""
    return dict(page.evaluate(FETCH, [url, credentials]))


def _record_console(page: Page, messages: list[ConsoleMessage]) -> None:
    # Playwright wants a Python function here, not a bound builtin such as ``list.append``.
    def record(message: ConsoleMessage) -> None:
        messages.append(message)

    page.on("console", record)


def _assert_blocked_for_cors(
    page: Page, messages: list[ConsoleMessage], outcome: dict[str, Any], target: str, why: str
) -> None:
    """The fetch of ``target`` failed, and chromium said on the console that CORS blocked it
    (``why``: the reason in its message)."""
    assert not outcome["ok"], f"{target}: {outcome}"
    assert outcome["error"].startswith("TypeError"), f"{target}: {outcome}"
    for _ in range(100):  # console events may trail the failed fetch a little
        if any(
            "has been blocked by CORS policy" in message.text
            and f"Access to fetch at '{target}'" in message.text
            and why in message.text
            for message in messages
        ):
            return
        page.wait_for_timeout(50)
    raise AssertionError(
        f"no CORS error on the console for {target}: {[message.text for message in messages]}"
    )


def test_sign_in_and_cors_between_apps_in_a_real_browser(deployment: Deployment) -> None:
    with _playwright() as playwright:
        _alice_calls_her_apps_but_not_bobs(deployment, playwright)
        _bob_cannot_call_alices_apps(deployment, playwright)


def _alice_calls_her_apps_but_not_bobs(deployment: Deployment, playwright: Playwright) -> None:
    with browser(playwright) as alice:
        pages: dict[str, Page] = {}
        console: dict[str, list[ConsoleMessage]] = {}
        for index, app in enumerate((*ALICE_APPS, "D")):
            page = alice.pages[0] if index == 0 and alice.pages else alice.new_page()
            console[app] = []
            _record_console(page, console[app])
            if app == "A":
                _sign_in(deployment, page, "alice", app)
            else:
                _open_signed_in(deployment, page, app)
            _check_cookie(alice, page, deployment, app)
            # A cookie of the app's own, which credentialed fetches to this app must carry.
            page.evaluate(f"document.cookie = 'marker={app}; path=/; SameSite=Lax'")
            pages[app] = page

        outcomes = {
            (source, target): _fetch(pages[source], deployment.url(target) + "whoami")
            for source in ALICE_APPS
            for target in APPS
            if target != source
        }
        for (source, target), outcome in outcomes.items():
            pair = f"{source} -> {target}: {outcome}"
            if target == "D":
                _assert_blocked_for_cors(
                    pages[source],
                    console[source],
                    outcome,
                    deployment.url(target) + "whoami",
                    "No 'Access-Control-Allow-Origin' header is present",
                )
                continue
            assert outcome["ok"] and outcome["status"] == 200, pair
            seen = json.loads(outcome["body"])
            assert seen["app"] == target, pair
            assert seen["origin"] == deployment.origin(source), pair
            # The browser sent the target's cookies (its app session got alice through the
            # owner-only share; templater took it out before the app) and the app's own one.
            assert seen["cookie"] == f"marker={target}", pair

        # The control: without its cookies B sends A's page to sign in, which A cannot read.
        _assert_blocked_for_cors(
            pages["A"],
            console["A"],
            _fetch(pages["A"], deployment.url("B") + "whoami?anonymous", "omit"),
            deployment.url("B") + "whoami?anonymous",
            "",
        )

        # D answered alice's pages: with her D cookie and A's origin it gives 200 and the app's
        # page, with no Access-Control-Allow-Origin, so the browser blocked the read.
        session = next(c for c in alice.cookies(deployment.url("D")) if c["name"] == APP_COOKIE)
        with httpx.Client(base_url=deployment.server.url, timeout=30) as client:
            direct = client.get(
                "/whoami",
                headers={
                    "Host": urlsplit(deployment.origin("D")).netloc,
                    "Origin": deployment.origin("A"),
                    "Cookie": f"{APP_COOKIE}={session['value']}",
                },
            )
        assert direct.status_code == 200, direct.text
        assert direct.json()["app"] == "D"
        assert "access-control-allow-origin" not in direct.headers


def _bob_cannot_call_alices_apps(deployment: Deployment, playwright: Playwright) -> None:
    with browser(playwright) as bob:
        page = bob.pages[0] if bob.pages else bob.new_page()
        messages: list[ConsoleMessage] = []
        _record_console(page, messages)
        _sign_in(deployment, page, "bob", "D")
        _check_cookie(bob, page, deployment, "D")
        for target in ALICE_APPS:
            url = deployment.url(target) + "whoami"
            _assert_blocked_for_cors(page, messages, _fetch(page, url), url, "")
