"""SSH to a workspace (SPEC §12) with the real OpenSSH client, from the configuration that
`templater config-ssh` wrote: commands and their exit status, a shell on a PTY, `ssh -L` and
`ssh -R`, scp both ways, a changed host key, and who may open it. A real server and agent
process on loopback; the agent's workspace is this machine."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from .agents import RunningAgent, agent_record, launch_agent, start_agent
from .conftest import needs
from .test_server import (
    Server,
    app_json,
    apply_apps,
    eventually,
    free_port,
    new_user,
    new_workspace,
    serving,
)
from .upstreams import EchoApp

pytestmark = needs(
    shutil.which("ssh") is not None and shutil.which("scp") is not None,
    "OpenSSH's client is missing: apt-get install openssh-client (.ci/run does it)",
)

TIMEOUT = 60


@dataclass
class World:
    server: Server
    alice: str
    agent: RunningAgent
    app: EchoApp
    config: Path
    """The SSH configuration config-ssh wrote."""

    def env(self, token: str | None = None) -> dict[str, str]:
        return self.server.environment(token or self.alice)

    def ssh(self, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ssh", "-F", str(self.config), *args],
            env=self.env(token),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            stdin=subprocess.DEVNULL,
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """alice's workspace dev with an app and a connected agent, and her SSH configuration."""
    app = EchoApp()
    running = serving(tmp_path_factory.mktemp("ssh"))
    server = next(running)
    alice = new_user(server, "alice")
    apply_apps(server, alice, "alice", "dev", [app_json("echo", app.port)])
    made = World(server, alice, start_agent(server, alice, "alice", "dev"), app, Path())
    try:
        assert eventually(lambda: _host_key(server) is not None), made.agent.log()
        made.config = server.home / "ssh" / "config"
        written = server.run("config-ssh", "--ssh-config", str(made.config), token=alice)
        assert written.returncode == 0, written.stderr
        yield made
    finally:
        made.agent.stop()
        next(running, None)
        app.close()


def test_commands_run_with_their_exit_status(world: World) -> None:
    assert world.ssh("templater.dev", "true").returncode == 0
    assert world.ssh("templater.dev", "exit 3").returncode == 3
    echoed = world.ssh("templater.dev.main", 'echo "$HOME|$USER|${TEMPLATER_AGENT_TOKEN:-none}"')
    assert echoed.returncode == 0, echoed.stderr
    home, user, token = echoed.stdout.strip().split("|")
    assert Path(home).is_dir() and user and token == "none"
    sent = world.ssh("-o", "SetEnv=GREETING=hello", "templater.dev", "echo $GREETING")
    assert sent.stdout.strip() == "hello"
    piped = subprocess.run(
        ["ssh", "-F", str(world.config), "templater.dev", "tr a-z A-Z; echo oops >&2; exit 4"],
        input="shout\n",
        env=world.env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert (piped.returncode, piped.stdout, piped.stderr) == (4, "SHOUT\n", "oops\n")


def test_templater_ssh_runs_the_system_ssh_with_the_key_pinned(world: World) -> None:
    ran = world.server.run("ssh", "dev", "--", "echo", "from templater; exit 5", token=world.alice)
    assert (ran.returncode, ran.stdout.strip()) == (5, "from templater"), ran.stderr
    unknown = world.server.run("ssh", "nope", "--", "true", token=world.alice)
    assert unknown.returncode == 1 and "no workspace alice/nope" in unknown.stderr


def test_a_shell_on_a_pty_follows_the_window(world: World) -> None:
    import pexpect

    shell = pexpect.spawn(
        "ssh",
        ["-F", str(world.config), "templater.dev"],
        env=world.env(),
        dimensions=(24, 80),
        timeout=TIMEOUT,
        encoding="utf-8",
    )
    try:
        shell.sendline("export PS1='ready> '")
        shell.expect_exact("ready> ")
        shell.sendline("tty; stty size")
        shell.expect(r"/dev/pts/\d+")
        shell.expect_exact("24 80")
        shell.setwinsize(40, 132)
        shell.sendline("stty size")
        shell.expect_exact("40 132")
        shell.sendline("exit 7")
        shell.expect(pexpect.EOF)
    finally:
        shell.close()
    assert shell.exitstatus == 7


def test_ssh_L_reaches_an_app_in_the_workspace(world: World) -> None:
    local = free_port()
    with _Forwarding(world, "-L", f"{local}:localhost:{world.app.port}"):
        answer = httpx.get(f"http://127.0.0.1:{local}/through-ssh", timeout=TIMEOUT)
    assert answer.status_code == 200 and answer.json()["target"] == "/through-ssh"


def test_ssh_L_keeps_the_greeting_of_a_server_that_speaks_first(world: World) -> None:
    """The asyncssh bug of SPEC §10: the destination's first bytes, sent before the channel is
    open, reach the client."""
    with _Greeter() as greeter:
        local = free_port()
        with _Forwarding(world, "-L", f"{local}:127.0.0.1:{greeter.port}"):
            for _ in range(3):
                assert _greeted(local) == b"220 templater test ready\r\n"


def test_ssh_R_listens_in_the_workspace(world: World) -> None:
    with _Greeter() as greeter:
        remote = free_port()
        with _Forwarding(world, "-R", f"{remote}:127.0.0.1:{greeter.port}"):
            assert eventually(lambda: _greeted(remote) == b"220 templater test ready\r\n", 30)


def test_scp_both_ways(world: World, tmp_path: Path) -> None:
    sent = tmp_path / "sent.bin"
    sent.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    remote = tmp_path / "in-the-workspace.bin"  # the workspace is this machine
    scp = ["scp", "-F", str(world.config)]
    up = subprocess.run(
        [*scp, str(sent), f"templater.dev:{remote}"],
        env=world.env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert up.returncode == 0, up.stderr
    back = tmp_path / "back.bin"
    down = subprocess.run(
        [*scp, f"templater.dev:{remote}", str(back)],
        env=world.env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert down.returncode == 0, down.stderr
    digest = hashlib.sha256(sent.read_bytes()).hexdigest()
    assert hashlib.sha256(remote.read_bytes()).hexdigest() == digest
    assert hashlib.sha256(back.read_bytes()).hexdigest() == digest


def test_sftp_starts_in_the_home_directory(world: World) -> None:
    listed = subprocess.run(
        ["sftp", "-F", str(world.config), "-b", "-", "templater.dev"],
        input="pwd\n",
        env=world.env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert listed.returncode == 0, listed.stderr
    assert f"Remote working directory: {Path.home()}" in listed.stdout


def test_a_changed_host_key_is_refused(world: World, tmp_path: Path) -> None:
    known = world.config.parent / "templater_known_hosts"
    names = known.read_text().split()[0]
    forged = tmp_path / "forged"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(forged)], check=True)
    algorithm, key = forged.with_suffix(".pub").read_text().split()[:2]
    config = tmp_path / "config"
    config.write_text(world.config.read_text().replace(str(known), str(tmp_path / "known")))
    (tmp_path / "known").write_text(f"{names} {algorithm} {key}\n")
    refused = subprocess.run(
        ["ssh", "-F", str(config), "templater.dev", "true"],
        env=world.env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    assert refused.returncode == 255
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in refused.stderr


def test_only_the_owner_and_admins_open_ssh(world: World) -> None:
    server = world.server
    bob = new_user(server, "bob")
    proxy = [sys.executable, "-m", "templater", "ssh", "--stdio"]
    refused = subprocess.run(
        [*proxy, "alice/dev"],
        env=world.env(bob),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    assert refused.returncode == 1
    assert "bob can only open SSH to their own workspaces" in refused.stderr
    with socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1]))) as raw:
        raw.sendall(
            b"GET /api/v1/ssh/alice/dev HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
            b"Upgrade: templater-ssh\r\n\r\n"
        )
        assert raw.recv(100).startswith(b"HTTP/1.1 401")
    admin = server.run("ssh", "alice/dev", "--", "true", token=server.admin_token)
    assert admin.returncode == 0, admin.stderr


def test_refusals_say_why_in_a_line(world: World) -> None:
    server = world.server
    new_workspace(server, world.alice, "alice", "multi", "left", "right")

    def refusal(target: str) -> str:
        ran = subprocess.run(
            [sys.executable, "-m", "templater", "ssh", "--stdio", target],
            env=world.env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        assert ran.returncode == 1 and len(ran.stderr.splitlines()) == 1, ran.stderr
        return ran.stderr

    assert "several agents (left, right): name one" in refusal("templater.multi")
    assert "alice/multi.left is not connected (it is connecting since" in refusal("multi.left")
    assert "no agent 'middle'" in refusal("multi.middle")
    assert "no such workspace" in refusal("nowhere")
    assert "names no workspace" in refusal("a.b.c")
    signed_out = {**world.env(), "TEMPLATER_TOKEN": "tpl_not-a-token"}
    ran = subprocess.run(
        [sys.executable, "-m", "templater", "ssh", "--stdio", "dev"],
        env=signed_out,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    assert ran.returncode == 1 and "the token is not valid (401" in ran.stderr


def test_config_ssh_keeps_the_rest_of_the_file_and_runs_the_same_twice(
    world: World, tmp_path: Path
) -> None:
    server, config = world.server, tmp_path / "config"
    mine = "Host work\n    HostName work.example.com\n    User me\n"
    config.write_text(mine)
    run = ["config-ssh", "--ssh-config", str(config)]
    assert server.run(*run, token=world.alice).returncode == 0
    once = config.read_text()
    assert once.startswith(mine) and "Host templater.*" in once
    assert "StrictHostKeyChecking yes" in once and "ProxyCommand" in once
    assert server.run(*run, token=world.alice).returncode == 0
    assert config.read_text() == once
    assert (config.stat().st_mode & 0o777) == 0o600
    known = (tmp_path / "templater_known_hosts").read_text()
    assert known.startswith("templater.dev,templater.dev.main ssh-ed25519 ")

    dry = server.run(*run, "--remove", "--dry-run", token=world.alice)
    assert dry.returncode == 0 and "-Host templater.*" in dry.stdout
    assert config.read_text() == once
    assert server.run(*run, "--remove", token=world.alice).returncode == 0
    assert config.read_text() == mine
    assert not (tmp_path / "templater_known_hosts").exists()


def test_the_host_key_is_kept_in_the_state_directory(world: World, tmp_path: Path) -> None:
    server = world.server
    state = server.home / "agent-alice-dev-main"
    key_file = state / "ssh_host_ed25519_key"
    assert (key_file.stat().st_mode & 0o777) == 0o600
    reported = agent_record(server, "alice", "dev", "main")["ssh_host_key"]
    world.agent.stop()
    world.agent = launch_agent(server, world.agent.token, state)
    assert eventually(
        lambda: agent_record(server, "alice", "dev", "main")["state"] == "connected", 30
    )
    assert agent_record(server, "alice", "dev", "main")["ssh_host_key"] == reported
    assert world.ssh("templater.dev", "true").returncode == 0


def test_the_proxy_command_imports_little(world: World) -> None:
    """`ssh --stdio` runs once per ssh: no HTTP client, no asyncio, no tables."""
    imported = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "templater", "ssh", "--stdio", "nope.x.y"],
        env=world.env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert imported.returncode == 1 and "names no workspace" in imported.stderr
    modules = {line.rsplit("|", 1)[-1].strip() for line in imported.stderr.splitlines()}
    assert "templater.cli.ssh_stdio" in modules
    assert not modules & {"httpx", "asyncio", "rich", "sqlalchemy", "asyncssh"}


# ----------------------------------------------------------------------------- helpers


def _host_key(server: Server) -> str | None:
    key = agent_record(server, "alice", "dev", "main")["ssh_host_key"]
    return None if key is None else str(key)


class _Forwarding:
    """``ssh -N`` with a forward, until the forward answers (or the test ends)."""

    def __init__(self, world: World, flag: str, spec: str) -> None:
        self._command = ["ssh", "-F", str(world.config), "-N", flag, spec, "templater.dev"]
        self._env = world.env()
        self._port = int(spec.split(":")[0])
        self._remote = flag == "-R"

    def __enter__(self) -> None:
        self._process = subprocess.Popen(
            [*self._command, "-o", "ExitOnForwardFailure=yes"],
            env=self._env,
            stdin=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        if not self._remote:
            assert eventually(lambda: not _port_free(self._port) or self._exited(), 30)
            assert not self._exited(), self._process.stderr

    def _exited(self) -> bool:
        return self._process.poll() is not None

    def __exit__(self, *_: object) -> None:
        self._process.terminate()
        self._process.wait(timeout=30)


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


class _Greeter:
    """A server that speaks first, as SMTP does: a greeting, then it hangs up."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            with connection:
                connection.sendall(b"220 templater test ready\r\n")

    def __enter__(self) -> _Greeter:
        return self

    def __exit__(self, *_: object) -> None:
        self._listener.close()


def _greeted(port: int) -> bytes:
    """What a server on ``port`` says before it is told anything."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as connection:
            received = b""
            while not received.endswith(b"\n"):
                chunk = connection.recv(100)
                if not chunk:
                    break
                received += chunk
            return received
    except OSError:
        return b""
