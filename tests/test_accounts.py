"""Accounts on a real server with several processes (issue 13, token lifecycle): tokens made,
listed and revoked, users suspended and activated, sessions ended by signing out. Each ending
is tried on many fresh connections, which the kernel spreads over the server's processes, each
with its own kept answers."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from .agents import RunningAgent, start_agent
from .test_server import Server, app_json, apply_apps, new_user, serving, sign_in
from .upstreams import EchoApp

WORKERS = "3"
CONNECTIONS = 24
"""Fresh connections each check is tried on: enough to reach every process of three."""
APP_HOST = "web--dev--alice.apps.localhost"


@dataclass
class Accounts:
    server: Server
    alice: str
    agent: RunningAgent
    app: EchoApp

    @property
    def port(self) -> int:
        port = urlsplit(self.server.url).port
        assert port is not None
        return port

    def app_status(self, headers: dict[str, str]) -> set[int]:
        """The statuses alice's owner-only app answers with, on fresh connections."""
        host = {"Host": f"{APP_HOST}:{self.port}"}
        return {
            httpx.get(f"{self.server.url}/", headers={**host, **headers}, timeout=30).status_code
            for _ in range(CONNECTIONS)
        }

    def api_status(self, token: str) -> set[int]:
        """The statuses ``/api/v1/users/me`` answers with for ``token``, on fresh connections."""
        bearer = {"Authorization": f"Bearer {token}"}
        return {
            httpx.get(f"{self.server.url}/api/v1/users/me", headers=bearer, timeout=30).status_code
            for _ in range(CONNECTIONS)
        }

    def browser(self) -> tuple[str, str]:
        """alice signed in with a browser: her access-URL session cookie, and the app cookie
        it got on her app's host."""
        with httpx.Client(base_url=self.server.url, timeout=30) as client:
            assert sign_in(client, "alice", self.alice).status_code == 303
            session = client.cookies["templater_session"]
            redirect_uri = f"http://{APP_HOST}:{self.port}/"
            answer = client.get(
                "/api/v1/applications/auth-redirect", params={"redirect_uri": redirect_uri}
            )
            assert answer.status_code == 303, answer.text
            ticket = parse_qs(urlsplit(answer.headers["location"]).query)["templater_ticket"]
            redeemed = httpx.get(
                f"{self.server.url}/?templater_ticket={ticket[0]}",
                headers={"Host": f"{APP_HOST}:{self.port}"},
                timeout=30,
            )
            assert redeemed.status_code == 303, redeemed.text
            found = re.search(r"templater_app_session=([^;]+)", redeemed.headers["set-cookie"])
            assert found is not None
            return session, found[1]

    def home_status(self, session: str) -> set[int]:
        """The statuses the dashboard answers the access-URL cookie with, on fresh
        connections."""
        cookie = {"Cookie": f"templater_session={session}"}
        return {
            httpx.get(f"{self.server.url}/", headers=cookie, timeout=30).status_code
            for _ in range(CONNECTIONS)
        }


@pytest.fixture(scope="module")
def accounts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Accounts]:
    tmp = tmp_path_factory.mktemp("accounts")
    for server in serving(tmp, "--workers", WORKERS):
        alice = new_user(server, "alice")
        app = EchoApp()
        apply_apps(server, alice, "alice", "dev", [app_json("web", app.port)])
        agent = start_agent(server, alice, "alice", "dev")
        yield Accounts(server, alice, agent, app)
        agent.stop()
        app.close()


def _created_token(output: str) -> tuple[int, str]:
    """The id and the secret ``tokens create`` printed."""
    found = re.search(r"Created token (\d+)", output)
    assert found is not None, output
    return int(found[1]), output.strip().splitlines()[-1]


def test_a_token_is_made_listed_and_revoked_at_once_on_every_process(
    accounts: Accounts,
) -> None:
    server = accounts.server
    made = server.run(
        "tokens", "create", "--name", "laptop", "--lifetime", "30d", token=accounts.alice
    )
    assert made.returncode == 0, made.stderr
    token_id, laptop = _created_token(made.stdout)
    assert "(laptop) for you, until 20" in made.stdout
    session = {"Templater-Session-Token": laptop}
    assert accounts.app_status(session) == {200}  # every process now keeps it as alice's
    assert accounts.api_status(laptop) == {200}

    listed = server.run("tokens", "list", "--json", token=accounts.alice)
    assert listed.returncode == 0, listed.stderr
    assert laptop not in listed.stdout and laptop.removeprefix("tpl_") not in listed.stdout
    [first, record] = json.loads(listed.stdout)
    assert (first["name"], first["expires_at"]) == ("first", None)
    assert (record["id"], record["name"]) == (token_id, "laptop")
    assert record["expires_at"] is not None and record["last_used_at"] is not None
    table = server.run("tokens", "list", token=accounts.alice)
    assert re.search(rf"^{token_id}\s+laptop\s+\S+\s+20\S+\s+20\S+$", table.stdout, re.M), (
        table.stdout
    )

    revoked = server.run("tokens", "revoke", str(token_id), token=accounts.alice)
    assert revoked.returncode == 0, revoked.stderr
    assert f"Revoked your token {token_id}: it no longer works." in revoked.stdout
    assert accounts.api_status(laptop) == {401}
    assert accounts.app_status(session) == {303}  # sent to sign in, on every process
    assert accounts.api_status(accounts.alice) == {200}  # her other token is untouched
    again = server.run("tokens", "revoke", str(token_id), token=accounts.alice)
    assert again.returncode == 1 and f"alice has no token {token_id}" in again.stderr


def test_an_expired_token_stops_working(accounts: Accounts) -> None:
    made = accounts.server.run("tokens", "create", "--lifetime", "2s", token=accounts.alice)
    assert made.returncode == 0, made.stderr
    _, brief = _created_token(made.stdout)
    deadline = time.monotonic() + 60
    while accounts.api_status(brief) != {401}:
        assert time.monotonic() < deadline, "the token still works"
        time.sleep(0.5)
    assert accounts.app_status({"Templater-Session-Token": brief}) == {303}


def test_tokens_are_the_owners_and_admins_only(accounts: Accounts) -> None:
    server = accounts.server
    bob = new_user(server, "bob")
    peek = server.run("tokens", "list", "--user", "alice", token=bob)
    assert peek.returncode == 1 and "bob can only see and change their own tokens" in peek.stderr
    for_alice = server.run("tokens", "create", "--user", "alice", "--name", "ops")
    assert for_alice.returncode == 0, for_alice.stderr
    assert "for alice" in for_alice.stdout
    token_id, secret = _created_token(for_alice.stdout)
    assert accounts.api_status(secret) == {200}
    stolen = server.run("tokens", "revoke", str(token_id), token=bob)
    assert stolen.returncode == 1 and "bob has no token" in stolen.stderr  # bob's own: none such
    listed = server.run("tokens", "list", "--user", "alice", "--json")
    assert "ops" in [token["name"] for token in json.loads(listed.stdout)]
    assert server.run("tokens", "revoke", str(token_id), "--user", "alice").returncode == 0
    assert accounts.api_status(secret) == {401}


@pytest.mark.parametrize(
    ("lifetime", "said"),
    [("30", "not a lifetime"), ("0d", "not a lifetime"), ("1y", "not a lifetime")],
)
def test_a_bad_lifetime_is_a_usage_error(accounts: Accounts, lifetime: str, said: str) -> None:
    made = accounts.server.run("tokens", "create", "--lifetime", lifetime, token=accounts.alice)
    assert made.returncode == 2 and said in made.stderr and "--lifetime" in made.stderr


def test_signing_out_ends_the_session_and_its_app_cookies(accounts: Accounts) -> None:
    session, app_cookie = accounts.browser()
    assert accounts.home_status(session) == {200}
    assert accounts.app_status({"Cookie": f"templater_app_session={app_cookie}"}) == {200}
    with httpx.Client(base_url=accounts.server.url, timeout=30) as client:
        client.cookies.set("templater_session", session)
        home = client.get("/")
        csrf = re.findall(r'name="csrf" value="([^"]+)"', home.text)[0]
        assert client.post("/logout", data={"csrf": csrf}).status_code == 303
    # The cookies a thief copied before the sign-out are worth nothing after it.
    assert accounts.home_status(session) == {303}
    assert accounts.app_status({"Cookie": f"templater_app_session={app_cookie}"}) == {303}


def test_a_suspended_user_is_locked_out_at_once_on_every_process(accounts: Accounts) -> None:
    server = accounts.server
    carol = new_user(server, "carol")
    session, app_cookie = accounts.browser()
    app_session = {"Cookie": f"templater_app_session={app_cookie}"}
    assert accounts.app_status({"Templater-Session-Token": accounts.alice}) == {200}
    assert accounts.app_status(app_session) == {200}

    refused = server.run("users", "suspend", "alice", token=carol)
    assert refused.returncode == 1 and "only admins suspend and activate users" in refused.stderr
    suspended = server.run("users", "suspend", "alice")
    assert suspended.returncode == 0, suspended.stderr
    assert "Suspended alice" in suspended.stdout
    try:
        assert accounts.api_status(accounts.alice) == {401}
        assert accounts.app_status({"Templater-Session-Token": accounts.alice}) == {303}
        assert accounts.app_status(app_session) == {303}
        assert accounts.home_status(session) == {303}
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert sign_in(client, "alice", accounts.alice).status_code == 401
        listed = server.run("users", "list", "--json")
        statuses = {user["name"]: user["status"] for user in json.loads(listed.stdout)}
        assert (statuses["alice"], statuses["carol"], statuses["admin"]) == (
            "suspended",
            "active",
            "active",
        )
        table = server.run("users", "list")
        assert re.search(r"^alice\s+member\s+suspended\s", table.stdout, re.M), table.stdout
    finally:
        activated = server.run("users", "activate", "alice")
    assert activated.returncode == 0, activated.stderr
    assert accounts.api_status(accounts.alice) == {200}  # her tokens work again
    assert accounts.app_status(app_session) == {303}  # but her sessions stay ended
    myself = server.run("users", "suspend", "admin")
    assert myself.returncode == 1 and "you cannot suspend or activate yourself" in myself.stderr
    missing = server.run("users", "suspend", "nobody")
    assert missing.returncode == 1 and "there is no user nobody" in missing.stderr


def test_an_event_stream_ends_when_its_user_is_suspended(accounts: Accounts) -> None:
    server = accounts.server
    dave = new_user(server, "dave")
    bearer = {"Authorization": f"Bearer {dave}"}
    with (
        httpx.Client(base_url=server.url, timeout=30) as client,
        client.stream("GET", "/api/v1/events", headers=bearer) as events,
    ):
        lines = events.iter_lines()
        assert next(lines) == ": connected"
        assert server.run("users", "suspend", "dave").returncode == 0
        rest = list(lines)  # it ends: a stream still open would time out here
    assert all(line in ("", ": keep-alive") for line in rest), rest
