"""``templater agent`` as a process: its settings, its log, and running until a signal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from asyncssh import SSHKey

from templater.agent.agent import Agent, prepare_state_dir
from templater.agent.ssh.host_key import HostKeyError, load_host_key
from templater.agent.ssh.server import SSHServer
from templater.relay.upgrade import ControlPlane


class AgentConfigError(ValueError):
    """A setting the agent cannot start with, naming the flag or variable to fix."""


@dataclass(frozen=True, slots=True)
class AgentSettings:
    plane: ControlPlane
    token: str
    state_dir: Path
    version: str


def agent_settings(
    url: str | None,
    token: str | None,
    token_file: Path | None,
    state_dir: Path | None,
    unix_socket: str | None,
    version: str,
) -> AgentSettings:
    """The settings from flags and environment (the CLI passes TEMPLATER_AGENT_* as defaults);
    raises AgentConfigError naming what is missing or wrong."""
    from urllib.parse import urlsplit

    if not url:
        raise AgentConfigError("give the control plane's URL: --url or TEMPLATER_AGENT_URL")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError as problem:
        raise AgentConfigError(f"--url {url!r}: {problem}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AgentConfigError(
            f"--url {url!r}: give templater's access URL, such as https://templater.example.com"
        )
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as problem:
            raise AgentConfigError(f"--token-file {token_file}: {problem}") from None
    if not token:
        raise AgentConfigError(
            "give the agent token: --token, --token-file or TEMPLATER_AGENT_TOKEN "
            "(`templater agents token WORKSPACE` issues one)"
        )
    if state_dir is None:
        import platformdirs

        state_dir = Path(platformdirs.user_state_dir("templater-agent"))
    return AgentSettings(
        ControlPlane(url.rstrip("/"), unix_socket), token.strip(), state_dir, version
    )


def run(settings: AgentSettings) -> int:
    """Run until SIGINT or SIGTERM; the exit status."""
    import uvloop

    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s templater agent: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
    )
    logging.getLogger("asyncssh").setLevel(logging.WARNING)  # a line per channel otherwise
    try:
        prepare_state_dir(settings.state_dir)
        host_key = load_host_key(settings.state_dir)
    except OSError as problem:
        raise AgentConfigError(f"--state-dir {settings.state_dir}: {problem.strerror}") from None
    except HostKeyError as problem:
        raise AgentConfigError(f"--state-dir {settings.state_dir}: {problem}") from None
    uvloop.run(_serve(settings, host_key))
    logging.getLogger("templater.agent").info("stopped")
    return 0


async def _serve(settings: AgentSettings, host_key: SSHKey) -> None:
    agent = Agent(settings.plane, settings.token, settings.version, SSHServer(host_key))
    task = asyncio.get_running_loop().create_task(agent.run())
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, task.cancel)
    logging.getLogger("templater.agent").info(
        "starting version=%s url=%s state_dir=%s",
        settings.version,
        settings.plane.url,
        settings.state_dir,
    )
    with contextlib.suppress(asyncio.CancelledError):
        await task
