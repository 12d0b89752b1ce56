"""The dashboard over HTTP, against a real server (SPEC §13, §15): who sees what, the forms'
protection against cross-site posts and other users, the port box's answers, the built-in
icons, the events stream of a browser session, and the pages' headers. The browser's own view
is in ``test_dashboard_browser``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from .agents import agents_running
from .test_server import Server, app_json, apply_apps, new_user, serving, sign_in

ACCESS = "http://localhost"


@dataclass
class Dashboard:
    server: Server
    tokens: dict[str, str]

    @contextmanager
    def browser(self, user: str | None = None) -> Iterator[httpx.Client]:
        """A browser's cookie jar, signed in as ``user`` if given. Requests name the access URL's
        host, as a browser on it would."""
        with httpx.Client(
            base_url=self.server.url, headers={"Host": "localhost"}, timeout=30
        ) as client:
            if user is not None:
                signed_in = sign_in(client, user, self.tokens[user])
                assert signed_in.status_code == 303, signed_in.text
            yield client

    def shares(self, owner: str = "alice", workspace: str = "dev") -> list[dict[str, Any]]:
        with self.server.api(self.tokens[owner]) as client:
            answer = client.get(f"/api/v1/workspaces/{owner}/{workspace}/ports")
        assert answer.status_code == 200, answer.text
        return list(answer.json())


def _app(slug: str, **fields: Any) -> dict[str, Any]:
    app = app_json(slug, 9999)
    app.update(fields)
    return app


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    tmp = tmp_path_factory.mktemp("dashboard")
    for server in serving(tmp, "--access-url", ACCESS):
        tokens = {name: new_user(server, name) for name in ("alice", "bob", "carol")}
        tokens["admin"] = server.admin_token
        apply_apps(
            server,
            tokens["alice"],
            "alice",
            "dev",
            [
                _app("code", display_name="<b>Code</b>", icon="javascript:alert(1)"),
                _app("hidden-tool", hidden=True),
                _app("notes", share="authenticated", icon="https://example.com/notes.png"),
                app_json("checked", 9999, healthcheck=(5, 3)),
            ],
        )
        apply_apps(server, tokens["bob"], "bob", "lab", [_app("private")])
        yield Dashboard(server, tokens)


def _csrf(page: httpx.Response) -> str:
    return str(re.findall(r'name="csrf" value="([^"]+)"', page.text)[0])


def _share_form(csrf: str, port: int = 8080, share: str = "public", **extra: str) -> dict[str, str]:
    return {
        "csrf": csrf,
        "owner": "alice",
        "workspace": "dev",
        "agent": "main",
        "port": str(port),
        "share": share,
        "back": "/#ws--alice--dev--main",
        **extra,
    }


def test_a_browser_without_a_session_is_sent_to_sign_in(dashboard: Dashboard) -> None:
    with dashboard.browser() as browser:
        assert browser.get("/").headers["location"] == "/login"
        form = browser.get("/login")
        assert "After signing in you see your workspaces." in form.text
        back = "/api/v1/applications/auth-redirect?" + urlencode(
            {"redirect_uri": "http://code--dev--alice.apps.localhost/some/page"}
        )
        going = browser.get("/login", params={"redirect": back})
        assert "you go on to <strong>code--dev--alice.apps.localhost/some/page</strong>" in (
            going.text
        )
        assert browser.get("/dashboard/events").status_code == 401


def test_each_user_sees_their_own_and_what_others_share(dashboard: Dashboard) -> None:
    with dashboard.browser("alice") as alice, dashboard.browser("bob") as bob:
        page = alice.get("/")
        assert page.status_code == 200
        assert "Your workspaces" in page.text
        assert "&lt;b&gt;Code&lt;/b&gt;" in page.text and "<b>Code</b>" not in page.text
        assert "javascript:" not in page.text  # the icon fell back to the generic one
        assert 'src="/icon/app.svg"' in page.text
        assert "hidden-tool" not in page.text
        # No agent has connected: the checked app's health is as it started, and says so.
        checked = page.text.split('data-app="alice/dev/checked"')[1].split("</li>")[0]
        assert "initializing" in checked and "last known: its agent is not connected" in checked
        notes = page.text.split('data-app="alice/dev/notes"')[1].split("</li>")[0]
        assert "no healthcheck" in notes and "last known" not in notes
        assert 'id="ws--bob--lab"' not in page.text
        theirs = bob.get("/").text
        assert 'data-app="alice/dev/notes"' in theirs  # shared with signed-in users
        assert 'src="https://example.com/notes.png"' in theirs  # an icon URL as given
        assert 'data-app="alice/dev/code"' not in theirs
        assert 'id="ws--bob--lab"' in theirs


def test_an_admin_sees_every_workspace_or_one_owners(dashboard: Dashboard) -> None:
    with dashboard.browser("admin") as admin:
        everyone = admin.get("/").text
        assert "All workspaces" in everyone
        assert 'id="ws--alice--dev"' in everyone and 'id="ws--bob--lab"' in everyone
        bobs = admin.get("/", params={"owner": "bob"}).text
        assert "Workspaces of bob" in bobs
        assert 'id="ws--alice--dev"' not in bobs and 'id="ws--bob--lab"' in bobs
        assert '<option value="bob" selected>bob</option>' in bobs
    with dashboard.browser("carol") as carol:
        # A member's filter is ignored: never someone else's workspaces.
        assert 'id="ws--bob--lab"' not in carol.get("/", params={"owner": "bob"}).text


def test_a_port_is_shared_and_unshared_from_the_page(dashboard: Dashboard) -> None:
    with dashboard.browser("alice") as alice:
        csrf = _csrf(alice.get("/"))
        shared = alice.post("/ports/share", data=_share_form(csrf, 8080, "public"))
        assert shared.status_code == 303, shared.text
        assert shared.headers["location"] == "/#ws--alice--dev--main"
        assert dashboard.shares() == [{"agent": "main", "port": 8080, "share": "public"}]
        page = alice.get("/").text
        # Shared but not listening: still listed, so that it can be unshared.
        assert re.search(r'data-port="8080".*?not listening', page, re.S)
        assert re.search(r'<option value="public" selected>', page)
        unshared = alice.post("/ports/share", data=_share_form(csrf, 8080, "owner"))
        assert unshared.status_code == 303
        assert dashboard.shares() == []


def test_the_share_form_refuses_cross_site_posts_and_other_users(dashboard: Dashboard) -> None:
    with dashboard.browser("alice") as alice, dashboard.browser("bob") as bob:
        csrf = _csrf(alice.get("/"))
        forged = alice.post("/ports/share", data=_share_form("x" * 43))
        assert forged.status_code == 403
        cross_site = alice.post(
            "/ports/share", data=_share_form(csrf), headers={"Origin": "http://evil.example"}
        )
        assert cross_site.status_code == 403
        assert "did not come from templater" in cross_site.text
        assert "Try again from http://localhost/." in cross_site.text
        bobs_csrf = _csrf(bob.get("/"))
        not_his = bob.post("/ports/share", data=_share_form(bobs_csrf))
        assert not_his.status_code == 403
        assert "Only alice and admins" in not_his.text
        bad = alice.post("/ports/share", data=_share_form(csrf, share="everyone"))
        assert bad.status_code == 400
        missing = alice.post("/ports/share", data=_share_form(csrf, agent="nope"))
        assert missing.status_code == 404
        assert "Back to your workspaces" in missing.text
    assert dashboard.shares() == []


def test_the_share_form_is_not_read_without_a_session(dashboard: Dashboard) -> None:
    with dashboard.browser() as anonymous:
        # A body far over the forms' limit: refused by who sends it, not by its size.
        answer = anonymous.post("/ports/share", content=b"x" * (1024 * 1024))
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/login")
    with dashboard.browser("alice") as alice:
        too_big = alice.post("/ports/share", content=b"x" * (1024 * 1024))
        assert too_big.status_code == 413


def test_the_port_box_opens_port_urls(dashboard: Dashboard) -> None:
    with dashboard.browser("alice") as alice:
        query = {"owner": "alice", "workspace": "dev", "agent": "main"}
        opened = alice.get("/ports/open", params={**query, "port": "8080"})
        assert opened.status_code == 303
        assert opened.headers["location"] == "http://8080--main--dev--alice.apps.localhost/"
        https = alice.get("/ports/open", params={**query, "port": "3000", "https": "1"})
        assert https.headers["location"] == "http://3000s--main--dev--alice.apps.localhost/"
        for refused in ("8", "65536", "80a", "", "²²²²", "000008080"):
            answer = alice.get("/ports/open", params={**query, "port": refused})
            assert answer.status_code == 400, refused
            assert "enter a number from 9 to 65535" in answer.text


def test_without_a_wildcard_the_box_says_why_there_are_no_port_urls(tmp_path: Path) -> None:
    for server in serving(tmp_path, "--access-url", ACCESS, "--wildcard-access-url", ""):
        alice = new_user(server, "alice")
        apply_apps(server, alice, "alice", "dev", [_app("code", subdomain=False)])
        dashboard = Dashboard(server, {"alice": alice})
        with dashboard.browser("alice") as browser:
            page = browser.get("/").text
            assert "Port URLs are not available" in page
            assert 'action="/ports/open"' not in page
            query = {"owner": "alice", "workspace": "dev", "agent": "main", "port": "8080"}
            assert browser.get("/ports/open", params=query).status_code == 404


def test_icons_come_from_the_built_in_set_with_a_generic_fallback(dashboard: Dashboard) -> None:
    with dashboard.browser() as anonymous:
        code = anonymous.get("/icon/code.svg")
        generic = anonymous.get("/icon/app.svg")
        assert code.status_code == generic.status_code == 200
        assert code.headers["content-type"] == "image/svg+xml"
        assert code.content.startswith(b"<svg") and code.content != generic.content
        assert anonymous.get("/icon/vscode.svg").content == code.content
        for unknown in ("/icon/no-such-icon.svg", "/icon/azure.png", "/emojis/1f4dd.png"):
            assert anonymous.get(unknown).content == generic.content, unknown
        assert anonymous.get("/static/dashboard.css").headers["content-type"].startswith("text/css")
        assert anonymous.get("/static/nothing.js").status_code == 404


def test_pages_carry_their_security_headers(dashboard: Dashboard) -> None:
    with dashboard.browser("alice") as alice:
        page = alice.get("/")
        policy = page.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["x-content-type-options"] == "nosniff"


def test_a_session_follows_its_workspaces_events(dashboard: Dashboard) -> None:
    with dashboard.browser("alice") as alice, alice.stream("GET", "/dashboard/events") as events:
        assert events.status_code == 200
        assert events.headers["content-type"].startswith("text/event-stream")
        assert next(events.iter_lines()) == ": connected"


def test_an_app_whose_agent_is_away_says_so_and_links_back(dashboard: Dashboard) -> None:
    headers = {
        "Host": "code--dev--alice.apps.localhost",
        "Templater-Session-Token": dashboard.tokens["alice"],
    }
    with httpx.Client(base_url=dashboard.server.url, timeout=30) as client:
        away = client.get("/", headers=headers)
        missing = client.get("/", headers={**headers, "Host": "nothing--dev--alice.apps.localhost"})
    assert away.status_code == 502
    assert "Workspace agent not connected" in away.text
    assert missing.status_code == 404
    for page in (away, missing):
        assert '<a href="http://localhost/">Back to your workspaces</a>' in page.text


def test_signing_out_ends_that_sessions_events_only(dashboard: Dashboard) -> None:
    with (
        dashboard.browser("alice") as leaving,
        dashboard.browser("alice") as staying,
        leaving.stream("GET", "/dashboard/events") as ended,
        staying.stream("GET", "/dashboard/events") as going_on,
    ):
        ended_lines, going_on_lines = ended.iter_lines(), going_on.iter_lines()
        assert next(ended_lines) == next(going_on_lines) == ": connected"
        csrf = _csrf(leaving.get("/"))
        assert leaving.post("/logout", data={"csrf": csrf}).status_code == 303
        assert [line for line in ended_lines if line] == []  # it ended, with nothing more
        # The other session's stream goes on: an agent connecting arrives on it.
        with agents_running(dashboard.server, (dashboard.tokens["alice"], "alice", "dev")):
            events = (line for line in going_on_lines if line.startswith("event:"))
            assert next(events) == "event: agent"
