"""The rough edges a new operator meets first: Ctrl-C, a URL that is not templater, piped
output, help and version, signing in. The real CLI in a subprocess, against a real server."""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest

from .conftest import EXAMPLES, ROOT, ctrl_c_reaches_it
from .test_cli import templater
from .test_server import (
    Server,
    app_json,
    apply_apps,
    free_port,
    new_user,
    new_workspace,
    serving,
)

DEADLINE = 60.0
"""Seconds to wait for an event that comes within a fraction of one on an idle machine."""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    yield from serving(tmp_path)


class Running:
    """The CLI running in the background with a pipe for stdin held open, its output collected
    as it comes."""

    def __init__(self, server: Server, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "templater", *args],
            cwd=ROOT,
            env=server.environment(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=ctrl_c_reaches_it,
        )
        self._output = b""
        self._more = threading.Condition()
        assert self.process.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout.fileno(),))
        self._reader.start()

    def _read(self, descriptor: int) -> None:
        while chunk := os.read(descriptor, 4096):
            with self._more:
                self._output += chunk
                self._more.notify_all()

    def wait_for(self, text: str) -> None:
        with self._more:
            shown = self._more.wait_for(lambda: text.encode() in self._output, DEADLINE)
            assert shown, f"{text!r} not in {self._output.decode()!r}"

    def interrupt(self) -> tuple[int, str, str]:
        """Ctrl-C: the exit status, stdout and stderr once it has ended. Python acts on a signal
        when a blocking read returns, so one that lands between the prompt's write and the read
        of the answer waits there: Ctrl-C is pressed again while it has not ended."""
        deadline = time.monotonic() + DEADLINE
        while True:
            self.process.send_signal(signal.SIGINT)
            try:
                status = self.process.wait(timeout=5)  # the little it writes fits in the pipe
                break
            except subprocess.TimeoutExpired:
                assert time.monotonic() < deadline, "Ctrl-C did not end it"
        assert self.process.stderr is not None
        errors = self.process.stderr.read().decode()
        self._reader.join(timeout=DEADLINE)
        assert self.process.stdin is not None
        self.process.stdin.close()
        return status, self._output.decode(), errors


# ----------------------------------------------------------------------------- Ctrl-C


def test_ctrl_c_at_the_apply_prompt_cancels_it(server: Server) -> None:
    apply = Running(server, "apply", str(EXAMPLES / "counted-apps"), "--workspace", "dev")
    apply.wait_for("Enter a value:")
    status, output, errors = apply.interrupt()
    assert (status, errors) == (130, "templater: Apply cancelled.\n"), output
    assert "Apply complete" not in output
    assert json.loads(server.run("apps", "--json").stdout) == []
    with server.api(server.admin_token) as api:
        assert api.get("/api/v1/workspaces/admin/dev").status_code == 404


def test_ctrl_c_at_the_destroy_prompt_cancels_it(server: Server) -> None:
    applied = server.run(
        "apply", str(EXAMPLES / "counted-apps"), "--workspace", "dev", "--auto-approve"
    )
    assert applied.returncode == 0, applied.stderr
    with server.api(server.admin_token) as api:
        before = api.get("/api/v1/workspaces/admin/dev").json()
    destroy = Running(server, "destroy", "--workspace", "dev")
    destroy.wait_for("Enter a value:")
    status, output, errors = destroy.interrupt()
    assert (status, errors) == (130, "templater: Destroy cancelled.\n"), output
    with server.api(server.admin_token) as api:
        assert api.get("/api/v1/workspaces/admin/dev").json() == before


def test_ctrl_c_during_any_command_is_one_line(server: Server) -> None:
    # A server that takes the connection and never answers: the CLI waits for its reply.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        silent.settimeout(DEADLINE)
        environment = {
            **server.environment(),
            "TEMPLATER_URL": f"http://127.0.0.1:{silent.getsockname()[1]}",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "templater", "apps"],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=ctrl_c_reaches_it,
        )
        connection, _ = silent.accept()
        with connection:
            process.send_signal(signal.SIGINT)
            output, errors = process.communicate(timeout=DEADLINE)
    assert (process.returncode, output, errors) == (130, "", "templater: interrupted\n")


# ----------------------------------------------------------------------------- not templater


def _signed_in_to(url: str, home: Path) -> dict[str, str]:
    return {"TEMPLATER_URL": url, "TEMPLATER_TOKEN": "tpl_x", "XDG_CONFIG_HOME": str(home)}


def test_a_url_that_is_not_templater_is_said_so(tmp_path: Path) -> None:
    port = free_port()
    other = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + DEADLINE
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "http.server did not start"
                time.sleep(0.1)
        said = f"{url} does not answer as a templater server (HTTP 404, text/html)\n"
        listed = templater("apps", env=_signed_in_to(url, tmp_path))
        assert (listed.returncode, listed.stderr) == (1, f"templater: {said}")
        login = templater("login", url, "--token", "tpl_x", env={"XDG_CONFIG_HOME": str(tmp_path)})
        assert (login.returncode, login.stderr) == (1, f"templater: {said}")
    finally:
        other.terminate()
        other.wait(timeout=DEADLINE)
    assert not (tmp_path / "templater").exists()  # no credentials were saved


def test_a_url_that_answers_other_json_is_said_so(tmp_path: Path) -> None:
    """Another JSON API (here: 200 with an object of its own for every path) is not mistaken for
    templater's answer: one line, no traceback."""

    class OtherApi(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"status": "ok", "items": 3}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    other = ThreadingHTTPServer(("127.0.0.1", 0), OtherApi)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{other.server_address[1]}"
    try:
        listed = templater("apps", env=_signed_in_to(url, tmp_path))
    finally:
        other.shutdown()
        other.server_close()
    assert listed.returncode == 1
    assert listed.stderr.startswith(
        f"templater: {url} does not answer as a templater server (unexpected JSON from /api/v1/apps"
    )
    assert listed.stderr.count("\n") == 1 and "Traceback" not in listed.stderr


def test_a_url_where_nothing_listens_is_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    listed = templater("apps", env=_signed_in_to(url, tmp_path))
    assert listed.returncode == 1
    assert listed.stderr.startswith(f"templater: cannot reach the control plane at {url}: ")
    assert "refused" in listed.stderr and listed.stderr.count("\n") == 1


# ----------------------------------------------------------------------------- tables


def _long_urls(server: Server) -> tuple[str, list[dict[str, str]]]:
    """A user whose two apps have URLs longer than 80 characters: their token and the apps."""
    token = new_user(server, "operator-with-a-long-name")
    apps = [app_json("code-server", 13337), app_json("jupyter-lab", 8888)]
    apply_apps(server, token, "operator-with-a-long-name", "staging-environment", apps)
    listed = json.loads(server.run("apps", "--json", token=token).stdout)
    assert all(len(app["url"]) > 80 for app in listed)
    return token, listed


def _row(app: dict[str, str]) -> list[str]:
    """The cells of ``templater apps``'s row for an app of ``apps --json``."""
    where = f"{app['owner']}/{app['workspace']}"
    return [
        where,
        app["agent"],
        app["agent_state"],
        app["slug"],
        app["share"],
        app["url"],
        app["health"],
    ]


def test_piped_apps_are_one_row_a_line_with_whole_urls(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, apps = _long_urls(server)
    expected = [_row(app) for app in apps]
    for columns in ("40", "80", "300"):
        monkeypatch.setenv("COLUMNS", columns)
        listed = server.run("apps", token=token)
        assert listed.returncode == 0, listed.stderr
        lines = listed.stdout.splitlines()
        assert lines[0].split() == [
            "workspace",
            "agent",
            "state",
            "slug",
            "share",
            "URL",
            "health",
        ]
        assert [line.split() for line in lines[1:]] == expected


def test_piped_ports_are_one_row_a_line(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    token = new_user(server, "alice")
    new_workspace(server, token, "alice", "dev", "an-agent-with-a-rather-long-name")
    for port in ("8080", "3000"):
        shared = server.run("ports", "share", "dev", port, "--level", "public", token=token)
        assert shared.returncode == 0, shared.stderr
    monkeypatch.setenv("COLUMNS", "20")
    lines = server.run("ports", "list", "dev", token=token).stdout.splitlines()
    assert [line.split() for line in lines] == [
        ["agent", "port", "share"],
        ["an-agent-with-a-rather-long-name", "3000", "public"],
        ["an-agent-with-a-rather-long-name", "8080", "public"],
    ]


def _on_a_terminal(
    server: Server, token: str, columns: int, *args: str, until: str | None = None
) -> list[str]:
    """The lines the CLI shows on a terminal ``columns`` wide (a pseudo-terminal), without
    their styles; with ``until``, Ctrl-C ends it once it has shown that."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    environment = {
        name: value
        for name, value in server.environment(token).items()
        if name not in ("COLUMNS", "LINES")
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "templater", *args],
        cwd=ROOT,
        env=environment,
        stdout=follower,
        stderr=subprocess.PIPE,
        preexec_fn=ctrl_c_reaches_it,
    )
    os.close(follower)
    output = b""
    try:
        while select.select([leader], [], [], DEADLINE)[0]:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the CLI has closed the terminal
                break
            if not chunk:
                break
            output += chunk
            if until is not None and until.encode() in output:
                process.send_signal(signal.SIGINT)
                until = None
    finally:
        os.close(leader)
    assert process.wait(timeout=DEADLINE) == 0, process.stderr.read() if process.stderr else ""
    text = re.sub(r"\x1b\[[0-?]*[ -/]*[@-~]", "", output.decode())
    return text.replace("\r\n", "\n").splitlines()


def test_apps_on_a_terminal_never_fold_or_cut_a_url(server: Server) -> None:
    token, apps = _long_urls(server)
    wide = _on_a_terminal(server, token, 250, "apps")
    assert len(wide) == 3 and max(map(len, wide)) <= 250
    assert [line.split() for line in wide[1:]] == [_row(app) for app in apps]
    # Narrower than the URLs and their neighbours: the other columns fold, the URLs stay whole.
    narrow = _on_a_terminal(server, token, 60, "apps")
    for app in apps:
        assert sum(app["url"] in line for line in narrow) == 1, narrow


def test_apps_watch_on_a_terminal_keeps_urls_whole(server: Server) -> None:
    token, apps = _long_urls(server)
    for columns in (250, 60):  # redrawn in place; printed anew below the last
        shown = _on_a_terminal(server, token, columns, "apps", "--watch", until=apps[-1]["url"])
        for app in apps:
            assert any(app["url"] in line for line in shown), shown


# ----------------------------------------------------------------------------- help and version

TALKS_TO_THE_SERVER = {
    "login",
    "users",
    "plan",
    "apply",
    "destroy",
    "apps",
    "url",
    "ports",
    "agents",
    "port-forward",
}


def _undocumented(text: str) -> list[str]:
    """The commands, arguments and options a --help text lists without a help of their own."""
    lines = [*text.splitlines(), ""]
    first = next(index for index, line in enumerate(lines) if re.fullmatch(r"\S.*:", line))
    missing = []
    for line, following in itertools.pairwise(lines[first:]):
        bare = re.fullmatch(r"( {2}| {4})\S+(?: \S+)*", line)  # an entry with no help beside it
        # ... has its help on the next line, indented deeper (or its subcommands, for COMMAND)
        if bare and len(following) - len(following.lstrip()) <= len(bare[1]):
            missing.append(line.strip())
    return missing


def _subcommands(text: str) -> list[str]:
    # A long name has its help on the next line.
    return re.findall(r"^ {4}(\S+)(?: |$)", text, re.MULTILINE)


def test_every_command_and_option_has_help() -> None:
    pending: list[tuple[str, ...]] = [()]
    seen = []
    while pending:
        command = pending.pop()
        shown = templater(*command, "--help", env={"COLUMNS": "100"})
        assert shown.returncode == 0, (command, shown.stderr)
        assert _undocumented(shown.stdout) == [], (command, shown.stdout)
        if not command or command[0] in TALKS_TO_THE_SERVER:
            assert "TEMPLATER_URL" in shown.stdout and "TEMPLATER_TOKEN" in shown.stdout, command
        pending += [(*command, name) for name in _subcommands(shown.stdout)]
        seen.append(" ".join(command))
    assert {
        "lint",
        "server",
        "login",
        "users create",
        "ports share",
        "ports list",
        "agents token",
        "agents list",
        "port-forward",
    } <= set(seen)


def test_version_is_the_installed_one() -> None:
    shown = templater("--version")
    assert (shown.returncode, shown.stdout) == (0, f"templater {version('templater')}\n")


def test_apps_json_and_watch_together_is_a_usage_error() -> None:
    refused = templater("apps", "--json", "--watch")
    assert refused.returncode == 2
    assert refused.stderr.startswith("usage: templater apps")
    assert "argument --watch: not allowed with argument --json" in refused.stderr


# ----------------------------------------------------------------------------- login


def _signed_out(server: Server) -> dict[str, str]:
    """The environment of a user with no TEMPLATER_URL or TEMPLATER_TOKEN."""
    environment = server.environment()
    del environment["TEMPLATER_URL"], environment["TEMPLATER_TOKEN"]
    return environment


def _login(server: Server, *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "templater", "login", server.url, *args],
        cwd=ROOT,
        env=_signed_out(server),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )


def test_login_reads_the_token_from_stdin(server: Server) -> None:
    token = new_user(server, "alice")
    signed_in = _login(server, stdin=f"{token}\n")
    assert signed_in.returncode == 0, signed_in.stderr
    assert signed_in.stdout.startswith(f"Signed in to {server.url} as alice (member)")
    saved = json.loads((server.home / "config" / "templater" / "credentials.json").read_text())
    assert saved == {"url": server.url, "token": token}
    listed = subprocess.run(
        [sys.executable, "-m", "templater", "apps", "--json"],
        cwd=ROOT,
        env=_signed_out(server),
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    assert (listed.returncode, listed.stdout) == (0, "[]\n"), listed.stderr

    for empty in ("", "\n", "  \n"):
        refused = _login(server, stdin=empty)
        assert refused.returncode == 2
        assert refused.stderr.startswith("templater: error: login needs an API token")
    assert _login(server, "--token", "", stdin="").returncode == 2
    # --token still works, and wins over stdin
    again = _login(server, "--token", server.admin_token, stdin=f"{token}\n")
    assert again.returncode == 0 and "as admin (admin)" in again.stdout, again.stderr
