"""The control plane and the operator's workflow, as a new user runs them: a real server process
on a loopback port with a real SQLite file, and the real CLI."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from .conftest import BACKENDS, EXAMPLES, ROOT, postgres_schema, require

VALID_EXAMPLES = sorted(path for path in EXAMPLES.glob("*/") if any(path.glob("*.tf")))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


EVENT_DEADLINE = 60.0
"""Seconds to wait for something that happens within a fraction of one on an idle machine: long
enough for a loaded one, so that no test depends on how fast the machine is."""


def eventually(condition: Callable[[], bool], seconds: float = EVENT_DEADLINE) -> bool:
    """Whether ``condition`` became true within ``seconds`` (checked every 20 ms)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def port_free(port: int) -> bool:
    """Whether nothing holds 127.0.0.1:``port`` (binding it as a server would)."""
    try:
        socket.create_server(("127.0.0.1", port)).close()
    except OSError:
        return False
    return True


@dataclass
class Server:
    url: str
    data_dir: Path
    process: subprocess.Popen[str]
    admin_token: str
    home: Path
    log_path: Path
    """Where the server's stderr goes: a file, so that a busy server never blocks on a pipe."""

    def log(self) -> str:
        return self.log_path.read_text()

    def environment(self, token: str | None = None) -> dict[str, str]:
        """The environment of a user in their own home directory, signed in with ``token``
        (the admin's by default)."""
        return {
            **os.environ,
            "XDG_CONFIG_HOME": str(self.home / "config"),
            "XDG_CACHE_HOME": str(self.home / "cache"),
            "TEMPLATER_URL": self.url,
            "TEMPLATER_TOKEN": token or self.admin_token,
        }

    def run(
        self, *args: str, token: str | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """The CLI as a user in their own home directory, signed in with ``token``."""
        return subprocess.run(
            [sys.executable, "-m", "templater", *args],
            cwd=ROOT,
            env=self.environment(token),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def api(self, token: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def start_server(data_dir: Path, home: Path, *extra: str, port: int | None = None) -> Server:
    """A server listening on 127.0.0.1:``port`` (a free one when None) with ``extra`` flags."""
    port = free_port() if port is None else port
    home.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(prefix="server-", suffix=".log", dir=home)
    log_path = Path(name)
    with os.fdopen(descriptor, "w") as log:
        process = launch_server(data_dir, port, log, *extra)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {log_path.read_text()}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        process.kill()
        raise AssertionError(f"server did not start: {log_path.read_text()}")
    token = (data_dir / "admin-token").read_text().strip()
    return Server(url, data_dir, process, token, home, log_path)


def launch_server(data_dir: Path, port: int, log: IO[str], *extra: str) -> subprocess.Popen[str]:
    """``templater server`` on 127.0.0.1:``port``, its output to ``log``, not waited for."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "templater",
            "server",
            "--data-dir",
            str(data_dir),
            "--listen",
            f"127.0.0.1:{port}",
            "--wildcard-access-url",
            "*.apps.localhost",
            *extra,
        ],
        stdout=log,
        stderr=log,
        text=True,
    )


def serving(tmp_path: Path, *extra: str, port: int | None = None) -> Iterator[Server]:
    running = start_server(tmp_path / "data", tmp_path / "home", *extra, port=port)
    yield running
    running.process.terminate()
    running.process.wait(timeout=30)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    yield from serving(tmp_path)


@pytest.fixture(params=BACKENDS)
def any_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A server on the embedded SQLite database, and one on PostgreSQL when there is one."""
    if request.param == "sqlite":
        yield from serving(tmp_path)
        return
    with postgres_schema() as url:
        yield from serving(tmp_path, "--database", url)


def app_json(slug: str, port: int, healthcheck: tuple[int, int] | None = None) -> dict[str, object]:
    """An app as the apply API takes it, served on ``port``; ``healthcheck`` is (interval,
    threshold) for a check of ``/healthz`` on the same port."""
    check = None
    if healthcheck is not None:
        check = {
            "url": f"http://localhost:{port}/healthz",
            "interval": healthcheck[0],
            "threshold": healthcheck[1],
        }
    return {
        "slug": slug,
        "agent": "main",
        "url": f"http://localhost:{port}",
        "command": None,
        "display_name": None,
        "icon": None,
        "external": False,
        "subdomain": True,
        "share": "owner",
        "order": None,
        "hidden": False,
        "open_in": None,
        "group": None,
        "tooltip": None,
        "healthcheck": check,
        "subdomain_label": None,
        "access_url": None,
    }


def put_workspace(
    server: Server,
    token: str,
    owner: str,
    name: str,
    apps: list[dict[str, Any]],
) -> httpx.Response:
    """Apply ``apps`` (``app_json``-shaped) to a new workspace through the API, with one agent
    ``main``."""
    with server.api(token) as client:
        return client.put(
            f"/api/v1/workspaces/{owner}/{name}",
            json={
                "expected_version": 0,
                "source": {},
                "variables": {},
                "agents": [{"name": "main"}],
                "apps": apps,
            },
        )


def apply_apps(
    server: Server,
    token: str,
    owner: str,
    name: str,
    apps: list[dict[str, Any]],
) -> None:
    answer = put_workspace(server, token, owner, name, apps)
    assert answer.status_code == 200, answer.text


def sign_in(
    client: httpx.Client, username: str, token: str, redirect: str | None = None
) -> httpx.Response:
    """Sign in as a browser does: open the sign-in form (its CSRF cookie lands in ``client``'s
    jar), then post it with the form's token."""
    form = client.get("/login")
    assert form.status_code == 200, form.text
    [csrf] = re.findall(r'name="csrf" value="([^"]+)"', form.text)
    data = {"username": username, "token": token, "csrf": csrf}
    if redirect is not None:
        data["redirect"] = redirect
    return client.post("/login", data=data)


def new_user(server: Server, name: str, *flags: str) -> str:
    created = server.run("users", "create", name, *flags)
    assert created.returncode == 0, created.stderr
    return created.stdout.strip().splitlines()[-1]


def test_walkthrough_as_a_new_user(any_server: Server, tmp_path: Path) -> None:
    server = any_server
    alice = new_user(server, "alice")
    template = tmp_path / "docker"
    shutil.copytree(EXAMPLES / "docker-code-server", template)

    applied = server.run(
        "apply", str(template / "main.tf"), "--workspace", "dev", "--auto-approve", token=alice
    )
    assert applied.returncode == 0, applied.stderr
    assert "+ agent.main" in applied.stdout and "+ app.code-server" in applied.stdout
    assert "Apply complete! Resources: 3 added" in applied.stdout

    listed = server.run("apps", "--json", token=alice)
    apps = {app["slug"]: app for app in json.loads(listed.stdout)}
    assert set(apps) == {"code-server", "docs"}
    code = apps["code-server"]
    assert (
        code["url"]
        == f"http://code-server--dev--alice.apps.localhost:{server.url.rsplit(':', 1)[1]}/"
    )
    assert (code["workspace"], code["owner"], code["agent"], code["health"]) == (
        "dev",
        "alice",
        "main",
        "initializing",
    )
    assert apps["docs"]["url"] == "https://coder.com/docs"

    again = server.run("apply", str(template), "--workspace", "dev", "--auto-approve", token=alice)
    assert again.returncode == 0 and "No changes." in again.stdout

    main = template / "main.tf"
    main.write_text(
        main.read_text().replace('display_name = "Documentation"', 'display_name = "Coder docs"')
    )
    planned = server.run("plan", str(template), "--workspace", "dev", token=alice)
    assert planned.returncode == 0, planned.stderr
    assert "~ app.docs" in planned.stdout
    assert 'display_name = "Documentation" -> "Coder docs"' in planned.stdout
    assert "Plan: 0 to add, 1 to change, 0 to replace, 0 to destroy." in planned.stdout

    url = server.run("url", "dev", "code-server", token=alice)
    assert url.stdout.strip() == code["url"]

    destroyed = server.run("destroy", "--workspace", "dev", "--auto-approve", token=alice)
    assert destroyed.returncode == 0, destroyed.stderr
    assert json.loads(server.run("apps", "--json", token=alice).stdout) == []


@pytest.mark.parametrize("example", VALID_EXAMPLES, ids=lambda path: path.name)
def test_plan_apply_destroy_cycle_on_every_example(server: Server, example: Path) -> None:
    workspace = f"ws-{example.name}"[:30]
    planned = server.run("plan", str(example), "--workspace", workspace)
    assert planned.returncode == 0, planned.stderr
    assert "to add" in planned.stdout
    assert (
        server.run("apply", str(example), "--workspace", workspace, "--auto-approve").returncode
        == 0
    )
    assert "No changes." in server.run("plan", str(example), "--workspace", workspace).stdout
    assert server.run("destroy", "--workspace", workspace, "--auto-approve").returncode == 0
    assert server.run("apps", "--json", "--workspace", workspace).stdout.strip() == "[]"


def test_apply_asks_before_changing_anything(server: Server) -> None:
    refused = server.run(
        "apply", str(EXAMPLES / "counted-apps"), "--workspace", "ask", stdin="no\n"
    )
    assert refused.returncode == 1 and "Apply cancelled." in refused.stderr
    assert server.run("apps", "--json").stdout.strip() == "[]"
    accepted = server.run(
        "apply", str(EXAMPLES / "counted-apps"), "--workspace", "ask", stdin="yes\n"
    )
    assert accepted.returncode == 0, accepted.stderr


def test_a_template_with_errors_is_never_applied(server: Server) -> None:
    refused = server.run(
        "apply", str(EXAMPLES / "broken" / "app-arguments"), "--workspace", "bad", "--auto-approve"
    )
    assert refused.returncode == 1
    assert "error[app-slug-format]" in refused.stderr
    assert "nothing was planned" in refused.stderr


def test_hostname_too_long_is_an_error_at_plan(server: Server) -> None:
    owner = new_user(server, "a-rather-long-username")
    planned = server.run(
        "plan",
        str(EXAMPLES / "broken" / "hostname-and-share"),
        "--workspace",
        "my-long-workspace-name",
        token=owner,
    )
    assert planned.returncode == 1
    assert "error[app-hostname-too-long]" in planned.stderr


def test_members_only_reach_their_own_workspaces(server: Server) -> None:
    alice, bob = new_user(server, "alice"), new_user(server, "bob")
    assert (
        server.run(
            "apply",
            str(EXAMPLES / "module-app"),
            "--workspace",
            "dev",
            "--auto-approve",
            token=alice,
        ).returncode
        == 0
    )

    with server.api(bob) as api:
        assert api.get("/api/v1/workspaces/alice/dev").status_code == 403
        assert api.delete("/api/v1/workspaces/alice/dev").status_code == 403
        assert api.get("/api/v1/apps", params={"owner": "alice"}).status_code == 403
        assert api.get("/api/v1/apps").json() == []
        assert api.post("/api/v1/users", json={"name": "mallory"}).status_code == 403
    plan = server.run(
        "plan", str(EXAMPLES / "module-app"), "--workspace", "dev", "--owner", "alice", token=bob
    )
    assert (
        plan.returncode == 1 and "bob can only see and change their own workspaces" in plan.stderr
    )
    destroy = server.run(
        "destroy", "--workspace", "dev", "--owner", "alice", "--auto-approve", token=bob
    )
    assert destroy.returncode == 1

    with server.api(None) as anonymous:
        response = anonymous.get("/api/v1/workspaces/alice/dev")
        assert response.status_code == 401 and "message" in response.json()
    with server.api("tpl_not-a-token") as forged:
        assert forged.get("/api/v1/users/me").status_code == 401
    with server.api(server.admin_token) as admin:
        assert admin.get("/api/v1/workspaces/alice/dev").json()["owner"] == "alice"


def test_no_route_answers_without_authentication(server: Server) -> None:
    with server.api(None) as anonymous:
        document = anonymous.get("/api/v1/openapi.json")
        assert document.status_code == 200
        for path, operations in document.json()["paths"].items():
            concrete = path.replace("{owner}", "alice").replace("{name}", "dev")
            for method in operations:
                response = anonymous.request(method.upper(), concrete)
                expected = 200 if path == "/api/v1/health" else 401
                assert response.status_code == expected, (method, path, response.text)


def test_tokens_are_never_stored_or_logged_in_clear(server: Server) -> None:
    token = new_user(server, "carol")
    with server.api(token) as api:
        assert api.get("/api/v1/users/me").json()["name"] == "carol"
        assert (
            api.get("/api/v1/apps", headers={"Templater-Session-Token": token}).status_code == 200
        )
    database = b"".join(path.read_bytes() for path in server.data_dir.glob("templater.db*"))
    assert token.encode() not in database
    assert server.admin_token.encode() not in database
    mode = stat.S_IMODE((server.data_dir / "admin-token").stat().st_mode)
    assert mode == 0o600
    server.process.terminate()
    server.process.wait(timeout=30)
    log = server.log()
    assert token not in log and server.admin_token not in log


def test_racing_applies_one_wins_one_conflicts(any_server: Server) -> None:
    server = any_server
    user = new_user(server, "dave")
    body = {
        "expected_version": 0,
        "source": {},
        "variables": {},
        "agents": [{"name": "main"}],
        "apps": [],
    }

    def apply(slug: str) -> int:
        app = app_json(slug, 8080)
        with server.api(user) as api:
            return api.put("/api/v1/workspaces/dave/race", json={**body, "apps": [app]}).status_code

    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(apply, ["first", "second"]))
    assert statuses == [200, 409]
    with server.api(user) as api:
        state = api.get("/api/v1/workspaces/dave/race").json()
    assert state["version"] == 1 and len(state["apps"]) == 1


def test_bad_server_flags_are_refused_with_their_own_message(tmp_path: Path) -> None:
    for flag, value, message in (
        ("--wildcard-access-url", "https://*.apps.example.com", "scheme"),
        ("--wildcard-access-url", "apps.*.example.com", "asterisk"),
        ("--access-url", "not a url", "--access-url"),
        ("--listen", "localhost", "--listen"),
        ("--max-body", "lots", "--max-body 'lots': give a size such as 16M"),
        ("--max-body", "0", "--max-body"),
        ("--max-body", "²M", "--max-body '²M': give a size"),  # a digit to str, not to int()
        ("--listen", "127.0.0.1:²", "--listen '127.0.0.1:²': give HOST:PORT"),
        ("--max-apps-per-workspace", "0", "--max-apps-per-workspace 0: give 1 to 10,000"),
        ("--max-workspaces-per-user", "10001", "--max-workspaces-per-user 10001: give 1 to"),
        ("--max-checks-per-second", "lots", "--max-checks-per-second: invalid int value"),
        ("--max-streams-per-agent", "0", "--max-streams-per-agent 0: give 1 to 10,000"),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "templater", "server", "--data-dir", str(tmp_path), flag, value],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2, (flag, value, result.stderr)
        assert message in result.stderr


def _many_apps(count: int, url_port: int) -> list[dict[str, object]]:
    return [app_json(f"app-{index}", url_port + index, (5, 3)) for index in range(count)]


def test_a_server_killed_mid_apply_restarts_with_the_old_state(tmp_path: Path) -> None:
    # Room for 8,000 apps checked every 5 s in one workspace.
    room = ("--max-apps-per-workspace", "8000", "--max-checks-per-second", "1600")
    running = start_server(tmp_path / "data", tmp_path / "home", *room)
    user = new_user(running, "erin")
    agents = [{"name": "main"}]
    old = {
        "expected_version": 0,
        "source": {},
        "variables": {},
        "agents": agents,
        "apps": _many_apps(50, 10000),
    }
    with running.api(user) as api:
        assert api.put("/api/v1/workspaces/erin/big", json=old).status_code == 200
    new = {**old, "expected_version": 1, "apps": _many_apps(8000, 20000)}
    outcomes = set()

    def send(target: Server) -> bool:
        """Whether the server acknowledged the apply before it was killed."""
        try:
            with target.api(user) as api:
                return api.put("/api/v1/workspaces/erin/big", json=new).status_code == 200
        except httpx.HTTPError:
            return False

    for delay in (0.02, 0.1, 0.3, 0.6):
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(send, running)
            time.sleep(delay)
            running.process.kill()  # SIGKILL: no chance to clean up
            running.process.wait(timeout=30)
            acknowledged = future.result(timeout=60)
        running = start_server(tmp_path / "data", tmp_path / "home", *room)
        with running.api(user) as api:
            state = api.get("/api/v1/workspaces/erin/big").json()
        ports = {app["url"].rsplit(":", 1)[1][:1] for app in state["apps"]}
        # Entirely the old state, or entirely the new one: never a mixture.
        assert (state["version"], len(state["apps"]), ports) in ((1, 50, {"1"}), (2, 8000, {"2"}))
        if acknowledged:
            assert state["version"] == 2  # an apply the server confirmed is never lost
        outcomes.add(state["version"])
        if state["version"] == 2:
            break
    running.process.terminate()
    running.process.wait(timeout=30)
    assert 1 in outcomes  # at least one kill landed before the commit


def test_sigterm_stops_the_server_cleanly(tmp_path: Path) -> None:
    running = start_server(tmp_path / "data", tmp_path / "home")
    running.process.send_signal(signal.SIGTERM)
    assert running.process.wait(timeout=30) == 0


def test_schemathesis_finds_no_server_error(server: Server, tmp_path: Path) -> None:
    schemathesis = shutil.which("st")
    require(schemathesis is not None, "schemathesis is not installed (pip install -e '.[dev]')")
    assert schemathesis is not None
    new_user(server, "fuzz")
    result = subprocess.run(
        [
            schemathesis,
            "run",
            f"{server.url}/api/v1/openapi.json",
            "--header",
            f"Authorization: Bearer {server.admin_token}",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "30",
            "--workers",
            "1",
            # The event stream never ends by design; test_server_health covers it.
            "--exclude-path",
            "/api/v1/events",
            # Revoking would end the token it runs with (an id as small as 1 is soon tried),
            # and every later case would be a 401; test_accounts revokes tokens.
            "--exclude-name",
            "DELETE /api/v1/users/{name}/tokens/{token_id}",
            "--request-timeout",
            "30",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:]


# ----------------------------------------------------------------------------- shared ports


def new_workspace(server: Server, token: str, owner: str, name: str, *agents: str) -> None:
    """A workspace with these agents and no apps, applied through the API."""
    body = {
        "expected_version": 0,
        "source": {},
        "variables": {},
        "agents": [{"name": agent} for agent in agents],
        "apps": [],
    }
    with server.api(token) as api:
        response = api.put(f"/api/v1/workspaces/{owner}/{name}", json=body)
        assert response.status_code == 200, response.text


def test_share_list_and_unshare_ports(any_server: Server) -> None:
    server = any_server
    alice = new_user(server, "alice")
    new_workspace(server, alice, "alice", "dev", "main")

    listed = server.run("ports", "list", "dev", token=alice)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip() == "No shared ports in alice/dev."

    shared = server.run("ports", "share", "dev", "8080", "--level", "authenticated", token=alice)
    assert shared.returncode == 0, shared.stderr
    assert (
        shared.stdout.strip()
        == "Shared port 8080 of agent main in alice/dev with authenticated users"
    )
    shared = server.run("ports", "share", "dev", "3000", "--level", "public", token=alice)
    assert shared.stdout.strip() == "Shared port 3000 of agent main in alice/dev publicly"
    # sharing again changes the level
    shared = server.run(
        "ports", "share", "dev", "8080", "--level", "public", "--agent", "main", token=alice
    )
    assert shared.returncode == 0, shared.stderr

    with server.api(alice) as api:
        assert api.get("/api/v1/workspaces/alice/dev/ports").json() == [
            {"agent": "main", "port": 3000, "share": "public"},
            {"agent": "main", "port": 8080, "share": "public"},
        ]
    table = server.run("ports", "list", "dev", token=alice).stdout.splitlines()
    assert table[0].split() == ["agent", "port", "share"]
    assert [line.split() for line in table[1:]] == [
        ["main", "3000", "public"],
        ["main", "8080", "public"],
    ]
    # an admin sees and changes everyone's
    as_admin = server.run("ports", "list", "dev", "--owner", "alice")
    assert as_admin.returncode == 0 and "3000" in as_admin.stdout

    unshared = server.run("ports", "unshare", "dev", "8080", token=alice)
    assert unshared.returncode == 0, unshared.stderr
    assert unshared.stdout.startswith("Port 8080 of agent main in alice/dev is no longer shared")
    again = server.run("ports", "unshare", "dev", "8080", token=alice)
    assert again.returncode == 1
    assert "port 8080 of agent main in alice/dev is not shared" in again.stderr
    with server.api(alice) as api:
        gone = api.delete("/api/v1/workspaces/alice/dev/ports/main/8080")
        assert gone.status_code == 404
        assert api.get("/api/v1/workspaces/alice/dev/ports").json() == [
            {"agent": "main", "port": 3000, "share": "public"}
        ]
        shared_again = api.put(
            "/api/v1/workspaces/alice/dev/ports/main/8080", json={"share": "authenticated"}
        )
        assert shared_again.json() == {"agent": "main", "port": 8080, "share": "authenticated"}
        assert api.delete("/api/v1/workspaces/alice/dev/ports/main/8080").json() == {
            "deleted": True
        }

    # a destroyed workspace takes its shares with it, also when one of its name comes back
    destroyed = server.run("destroy", "--workspace", "dev", "--auto-approve", token=alice)
    assert destroyed.returncode == 0, destroyed.stderr
    with server.api(alice) as api:
        missing = api.get("/api/v1/workspaces/alice/dev/ports")
        assert missing.status_code == 404
        assert missing.json()["message"] == "there is no workspace alice/dev"
    new_workspace(server, alice, "alice", "dev", "main")
    assert server.run("ports", "list", "dev", token=alice).stdout.strip() == (
        "No shared ports in alice/dev."
    )


def test_port_sharing_refusals(server: Server) -> None:
    alice, bob = new_user(server, "alice"), new_user(server, "bob")
    new_workspace(server, alice, "alice", "dev", "main")
    new_workspace(server, alice, "alice", "pair", "main", "side")

    def refused(*args: str, token: str = alice) -> str:
        result = server.run("ports", *args, token=token)
        assert result.returncode != 0, result.stdout
        return result.stderr

    assert "invalid choice: 'owner'" in refused("share", "dev", "8080", "--level", "owner")
    assert "templater reserves ports below 9" in refused("share", "dev", "8", "--level", "public")
    assert "workspace alice/dev has no agent nope" in refused(
        "share", "dev", "8080", "--level", "public", "--agent", "nope"
    )
    assert "workspace alice/pair has agents main, side: choose one with --agent" in refused(
        "share", "pair", "8080", "--level", "public"
    )
    assert "there is no workspace alice/nope" in refused(
        "share", "nope", "8080", "--level", "public"
    )
    assert "there is no workspace alice/nope" in refused("list", "nope")
    assert "bob can only see and change their own workspaces" in refused(
        "share", "dev", "8080", "--level", "public", "--owner", "alice", token=bob
    )

    with server.api(alice) as api:
        ports = "/api/v1/workspaces/alice/dev/ports"
        for port, share, message in (
            (8, "public", "port 8 cannot be shared: templater reserves ports below 9"),
            (0, "public", "0 is not a port: use 9 to 65535"),
            (65536, "public", "65536 is not a port: use 9 to 65535"),
            (8080, "owner", "share level 'owner' is invalid; use one of authenticated, public"),
        ):
            response = api.put(f"{ports}/main/{port}", json={"share": share})
            assert (response.status_code, response.json()["message"]) == (422, message)
        response = api.put(f"{ports}/nope/8080", json={"share": "public"})
        assert response.status_code == 404
        assert response.json()["message"] == "workspace alice/dev has no agent nope"
        response = api.put(
            "/api/v1/workspaces/alice/nope/ports/main/8080", json={"share": "public"}
        )
        assert response.status_code == 404
        assert api.put(f"{ports}/main/8080", json={}).status_code == 422
        assert api.put(f"{ports}/main/http", json={"share": "public"}).status_code == 422
        assert api.delete(f"{ports}/main/99999999999999999999").status_code == 404
        assert api.get(ports).json() == []

    with server.api(bob) as api:
        assert api.get("/api/v1/workspaces/alice/dev/ports").status_code == 403
        put = api.put("/api/v1/workspaces/alice/dev/ports/main/8080", json={"share": "public"})
        assert put.status_code == 403
        assert api.delete("/api/v1/workspaces/alice/dev/ports/main/8080").status_code == 403
    with server.api(alice) as api:
        assert api.get("/api/v1/workspaces/alice/dev/ports").json() == []
