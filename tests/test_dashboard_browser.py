"""The dashboard in a real browser (Debian's chromium, driven by Playwright) against a real
server with real agents and apps (SPEC §13): signing in, the workspace with its icons and
health, a health change arriving live, opening an app, the "Port forward" box, a port that
starts listening showing up and opening, sharing it with another user and taking it back, an
admin's view of everyone's workspaces, and an accessibility check (axe-core) of each kind of
page.

Every test saves a screenshot of what the user saw under ``test-results/dashboard/``.

Alice owns workspace ``dev`` (agent ``main``): ``code`` with a healthcheck that the test turns
bad and good again, ``docs`` (an external link), ``notes`` (shared with signed-in users, so Bob
sees it under "Shared with you") and ``secret-tool`` (hidden). Bob owns workspace ``lab``."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page, Playwright, expect, sync_playwright

from .agents import agents_running
from .chromium import WILDCARD, browser, serving_browsers
from .conftest import needs_chromium
from .test_server import Server, app_json, apply_apps, new_user
from .upstreams import PageApp

pytestmark = needs_chromium

SCREENSHOTS = Path(os.environ.get("TEMPLATER_SCREENSHOTS", "test-results/dashboard"))
LIVE = 30_000
"""Milliseconds to wait for something the page shows by itself (a health check, an agent's
report of its ports): generous, for a busy machine."""


@dataclass
class Deployment:
    server: Server
    port: int
    tokens: dict[str, str]
    code: PageApp
    """Alice's ``code`` app, whose health the tests turn."""

    @property
    def access_url(self) -> str:
        return f"http://localhost:{self.port}"

    def port_url(self, port: int, owner: str = "alice", workspace: str = "dev") -> str:
        return f"http://{port}--main--{workspace}--{owner}.{WILDCARD}:{self.port}/"


def _app(slug: str, port: int, **fields: Any) -> dict[str, Any]:
    app = app_json(slug, port)
    app.update(fields)
    return app


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("dashboard")
    code, notes, lab = PageApp("code"), PageApp("notes"), PageApp("lab")
    for server, port in serving_browsers(tmp):
        tokens = {
            "alice": new_user(server, "alice"),
            "bob": new_user(server, "bob"),
            "admin": server.admin_token,
        }
        check = {"url": f"http://localhost:{code.port}/healthz", "interval": 1, "threshold": 1}
        apply_apps(
            server,
            tokens["alice"],
            "alice",
            "dev",
            [
                _app(
                    "code", code.port, display_name="Code", icon="/icon/code.svg", healthcheck=check
                ),
                _app(
                    "docs",
                    code.port,
                    display_name="Documentation",
                    icon="/icon/book.svg",
                    external=True,
                    url="https://coder.com/docs",
                ),
                _app("notes", notes.port, display_name="Notes", share="authenticated"),
                _app("secret-tool", notes.port, display_name="Secret tool", hidden=True),
            ],
        )
        apply_apps(server, tokens["bob"], "bob", "lab", [_app("lab", lab.port, display_name="Lab")])
        with agents_running(
            server, (tokens["alice"], "alice", "dev"), (tokens["bob"], "bob", "lab")
        ):
            yield Deployment(server, port, tokens, code)
    for app in (code, notes, lab):
        app.close()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


def _screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _signed_in(context: BrowserContext, deployment: Deployment, user: str) -> Page:
    """A new tab of ``context`` signed in from the dashboard's own page, on the workspaces page
    and following its events; marked, so that a test can tell it was never reloaded."""
    page = context.new_page()
    page.goto(deployment.access_url + "/")
    assert urlsplit(page.url).path == "/login"
    page.get_by_label("Username").fill(user)
    page.get_by_label("API token").fill(deployment.tokens[user])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(deployment.access_url + "/")
    expect(page.locator("body")).to_have_attribute("data-events", "connected")
    page.evaluate("window.notReloaded = true")
    return page


def _tile(page: Page, slug: str, owner: str = "alice", workspace: str = "dev") -> Any:
    return page.locator(f'[data-app="{owner}/{workspace}/{slug}"]')


def _port_row(page: Page, port: int) -> Any:
    return page.locator(f"#ws--alice--dev--main-ports tr[data-port='{port}']")


def _share(page: Page, port: int, level: str, said: str) -> None:
    """Choose ``level`` for ``port`` in its row and save it in place, as a person would."""
    row = _port_row(page, port)
    row.get_by_label(f"Share port {port} with").select_option(level)
    row.get_by_role("button", name="Save").click()
    expect(page.locator("#live-status")).to_have_text(f"Port {port} {said}")
    expect(row.get_by_label(f"Share port {port} with")).to_have_value(level)


def _opened(context: BrowserContext, click: Any) -> Page:
    """The page a click opens in a new tab or window, once it has loaded."""
    with context.expect_page() as opened:
        click()
    page = opened.value
    page.wait_for_load_state()
    return page


def test_signing_in_shows_the_workspace_with_icons_and_health(
    deployment: Deployment, playwright: Playwright
) -> None:
    with browser(playwright) as context:
        signing_in = context.new_page()
        signing_in.goto(deployment.access_url + "/")
        expect(signing_in.get_by_role("heading", name="Sign in to templater")).to_be_visible()
        expect(signing_in.locator(".going")).to_contain_text("your workspaces")
        _screenshot(signing_in, "sign-in")
        page = _signed_in(context, deployment, "alice")
        expect(page.get_by_role("heading", name="Your workspaces")).to_be_visible()
        expect(page.locator("#ws--alice--dev-title")).to_have_text("dev")
        agent = page.locator("#ws--alice--dev--main-head")
        expect(agent).to_contain_text("connected")
        expect(agent).to_contain_text("linux")
        code = _tile(page, "code")
        expect(code.locator(".name")).to_have_text("Code")
        expect(code.locator(".health")).to_contain_text("healthy", timeout=LIVE)
        expect(code.locator(".share")).to_have_text("owner")
        docs = _tile(page, "docs")
        expect(docs.locator(".health")).to_have_text("no healthcheck")
        expect(docs.locator("a")).to_have_attribute("href", "https://coder.com/docs")
        expect(_tile(page, "secret-tool")).to_have_count(0)
        # Every icon loaded: the built-in ones and the generic one for an app without its own.
        for slug, icon in (("code", "/icon/code.svg"), ("notes", "/icon/app.svg")):
            image = _tile(page, slug).locator("img")
            expect(image).to_have_attribute("src", icon)
            assert image.evaluate("i => i.complete && i.naturalWidth > 0"), slug
        _screenshot(page, "workspaces")


def test_a_health_change_appears_without_a_reload(
    deployment: Deployment, playwright: Playwright
) -> None:
    with browser(playwright) as context:
        page = _signed_in(context, deployment, "alice")
        health = _tile(page, "code").locator(".health")
        expect(health).to_have_text(re.compile(r"^healthy"), timeout=LIVE)
        deployment.code.healthy = False
        try:
            expect(health).to_contain_text("unhealthy: ", timeout=LIVE)
            expect(health).to_contain_text("503")
            expect(health.locator(".state")).to_have_class(re.compile(r"\bbad\b"))
            _screenshot(page, "health-live-unhealthy")
        finally:
            deployment.code.healthy = True
        expect(health).to_have_text(re.compile(r"^healthy"), timeout=LIVE)
        assert page.evaluate("window.notReloaded") is True


def test_agents_coming_and_going_appear_without_a_reload(
    deployment: Deployment, playwright: Playwright
) -> None:
    with browser(playwright) as context:
        page = _signed_in(context, deployment, "alice")
        apply_apps(
            deployment.server,
            deployment.tokens["alice"],
            "alice",
            "spare",
            [_app("spare", deployment.code.port, display_name="Spare")],
        )
        head = page.locator("#ws--alice--spare--main-head")
        with agents_running(deployment.server, (deployment.tokens["alice"], "alice", "spare")):
            expect(head).to_contain_text("connected", timeout=LIVE)
            expect(_tile(page, "spare", workspace="spare")).to_be_visible()
        expect(head.locator(".state")).to_contain_text("disconnected", timeout=LIVE)
        expect(head.locator(".state")).to_have_class(re.compile(r"\bbad\b"))
        _screenshot(page, "agent-disconnected-live")
        assert page.evaluate("window.notReloaded") is True


def test_the_port_box_works_from_the_keyboard(
    deployment: Deployment, playwright: Playwright
) -> None:
    with browser(playwright) as context:
        page = _signed_in(context, deployment, "alice")
        field = page.locator("#ws--alice--dev--main-port")
        for _ in range(60):  # Tab through the page's controls, in their order, to the box
            page.keyboard.press("Tab")
            if field.evaluate("element => element === document.activeElement"):
                break
        else:
            pytest.fail("Tab never reached the port field")
        page.keyboard.type(str(deployment.code.port))
        opened = _opened(context, lambda: page.keyboard.press("Enter"))
        expect(opened.get_by_role("heading", name="App code")).to_be_visible()


def test_opening_an_app_from_its_tile(deployment: Deployment, playwright: Playwright) -> None:
    with browser(playwright) as context:
        page = _signed_in(context, deployment, "alice")
        app = _opened(context, lambda: _tile(page, "code").get_by_role("link").click())
        expect(app.get_by_role("heading", name="App code")).to_be_visible()
        assert app.url == f"http://code--dev--alice.{WILDCARD}:{deployment.port}/"
        _screenshot(app, "app-opened")


def test_a_port_typed_in_the_box_opens(deployment: Deployment, playwright: Playwright) -> None:
    with browser(playwright) as context:
        page = _signed_in(context, deployment, "alice")
        box = page.locator("#ws--alice--dev--main").locator(".open-port")
        box.get_by_label("Port").fill(str(deployment.code.port))
        _screenshot(page, "port-box-typed")
        opened = _opened(context, lambda: box.get_by_role("button", name="Open").click())
        expect(opened.get_by_role("heading", name="App code")).to_be_visible()
        assert opened.url == deployment.port_url(deployment.code.port)
        # A port the form refuses says why, with a way back.
        page.goto(f"{deployment.access_url}/ports/open?owner=alice&workspace=dev&agent=main&port=3")
        expect(page.get_by_role("heading", name="Not a port")).to_be_visible()
        expect(page.get_by_role("link", name="Back to your workspaces")).to_be_visible()


def test_a_new_port_appears_is_shared_and_unshared(
    deployment: Deployment, playwright: Playwright
) -> None:
    with browser(playwright) as alice_browser, browser(playwright) as bob_browser:
        alice = _signed_in(alice_browser, deployment, "alice")
        page_app = PageApp("fresh")
        try:
            row = _port_row(alice, page_app.port)
            expect(row).to_be_visible(timeout=LIVE)  # without a reload: the ports event
            expect(row).to_contain_text("python")
            _screenshot(alice, "port-appeared")
            opened = _opened(alice_browser, lambda: row.get_by_role("link").click())
            expect(opened.get_by_role("heading", name="App fresh")).to_be_visible()
            opened.close()

            bob = _signed_in(bob_browser, deployment, "bob")
            shared = bob.locator("#shared")
            expect(shared).to_contain_text("Notes")  # alice's app shared with signed-in users
            expect(shared.get_by_role("link", name=f"Port {page_app.port}")).to_have_count(0)
            url = deployment.port_url(page_app.port)
            denied = bob.context.new_page()
            denied.goto(url)
            expect(denied.get_by_role("heading", name="Application not found")).to_be_visible()

            _share(alice, page_app.port, "authenticated", "is shared: authenticated.")
            _screenshot(alice, "port-shared")

            bob.reload()
            link = bob.locator("#shared").get_by_role("link", name=f"Port {page_app.port}")
            expect(link).to_be_visible()
            _screenshot(bob, "shared-with-you")
            opened = _opened(bob_browser, link.click)
            expect(opened.get_by_role("heading", name="App fresh")).to_be_visible()

            _share(alice, page_app.port, "owner", "is no longer shared.")
            opened.reload()
            expect(opened.get_by_role("heading", name="Application not found")).to_be_visible()
            _screenshot(opened, "unshared-not-found")
            expect(opened.get_by_role("link", name="Back to your workspaces")).to_have_attribute(
                "href", deployment.access_url + "/"
            )
        finally:
            page_app.close()
        expect(row).to_have_count(0, timeout=LIVE)  # closed: gone from the list by itself


def test_an_admin_sees_every_workspace(deployment: Deployment, playwright: Playwright) -> None:
    with browser(playwright) as context:
        page = _signed_in(context, deployment, "admin")
        expect(page.get_by_role("heading", name="All workspaces")).to_be_visible()
        expect(page.locator("#ws--alice--dev-title")).to_have_text("dev of alice")
        expect(page.locator("#ws--bob--lab-title")).to_have_text("lab of bob")
        _screenshot(page, "admin-all")
        page.get_by_label("Owner").select_option("bob")
        page.get_by_role("button", name="Show").click()
        expect(page.get_by_role("heading", name="Workspaces of bob")).to_be_visible()
        expect(page.locator("#ws--alice--dev")).to_have_count(0)
        expect(page.locator("#ws--bob--lab")).to_be_visible()


def _violations(page: Page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + ", ".join(str(node["target"]) for node in violation["nodes"])
        for violation in results.response["violations"]
    ]


def test_every_kind_of_page_passes_an_accessibility_check(
    deployment: Deployment, playwright: Playwright
) -> None:
    with browser(playwright) as context:
        signing_in = context.new_page()
        signing_in.goto(deployment.access_url + "/")
        found = {"sign-in": _violations(signing_in)}
        page = _signed_in(context, deployment, "alice")
        expect(_tile(page, "code").locator(".health")).to_contain_text("healthy", timeout=LIVE)
        found["workspaces"] = _violations(page)
        with browser(playwright) as admins:
            # Every workspace: several of each landmark.
            admin = _signed_in(admins, deployment, "admin")
            found["workspaces of everyone"] = _violations(admin)
        page.goto(f"{deployment.access_url}/ports/open?owner=alice&workspace=dev&agent=main&port=x")
        found["message"] = _violations(page)
        page.goto(f"http://nothing--dev--alice.{WILDCARD}:{deployment.port}/")
        expect(page.get_by_role("heading", name="Application not found")).to_be_visible()
        found["app error"] = _violations(page)
        _screenshot(page, "app-not-found")
    assert found == {kind: [] for kind in found}
