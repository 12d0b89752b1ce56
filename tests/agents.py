"""Real ``templater agent`` processes for the tests: started with a token the API issues, their
log in a file, stopped at the end."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .test_server import Server, eventually


@dataclass
class RunningAgent:
    process: subprocess.Popen[str]
    log_path: Path
    token: str

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def issue_token(server: Server, user_token: str, owner: str, workspace: str, agent: str) -> str:
    with server.api(user_token) as client:
        answer = client.post(f"/api/v1/workspaces/{owner}/{workspace}/agents/{agent}/token")
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


def agent_record(server: Server, owner: str, workspace: str, agent: str) -> dict[str, Any]:
    with server.api(server.admin_token) as client:
        answer = client.get(f"/api/v1/workspaces/{owner}/{workspace}/agents")
    assert answer.status_code == 200, answer.text
    [found] = [record for record in answer.json() if record["name"] == agent]
    return dict(found)


def launch_agent(
    server: Server, token: str, state_dir: Path, *extra: str, url: str | None = None
) -> RunningAgent:
    """An agent process with ``token``, not waited for."""
    descriptor, name = tempfile.mkstemp(prefix="agent-", suffix=".log", dir=server.home)
    with os.fdopen(descriptor, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "templater",
                "agent",
                "--url",
                url or server.url,
                "--state-dir",
                str(state_dir),
                *extra,
            ],
            env={**os.environ, "TEMPLATER_AGENT_TOKEN": token},
            stdout=log,
            stderr=log,
            text=True,
        )
    return RunningAgent(process, Path(name), token)


def start_agent(
    server: Server, user_token: str, owner: str, workspace: str, agent: str = "main"
) -> RunningAgent:
    """An agent connected for ``owner``'s ``workspace`` (it is its ``agent``)."""
    token = issue_token(server, user_token, owner, workspace, agent)
    running = launch_agent(server, token, server.home / f"agent-{owner}-{workspace}-{agent}")
    connected = eventually(
        lambda: agent_record(server, owner, workspace, agent)["state"] == "connected", 30
    )
    assert connected, running.log()
    return running


@contextmanager
def agents_running(
    server: Server, *workspaces: tuple[str, str, str]
) -> Iterator[list[RunningAgent]]:
    """An agent for each (user token, owner, workspace), stopped afterwards."""
    started = [start_agent(server, token, owner, name) for token, owner, name in workspaces]
    try:
        yield started
    finally:
        for running in started:
            running.stop()
