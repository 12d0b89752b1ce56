"""The agent's life (SPEC §11): one WebSocket control channel to the control plane, opened
again with backoff after any failure; health checks of its apps, its listening ports, and the
streams the control plane asks for.

Everything the control plane sends is checked (``agent_messages.decode``): nonsense closes that
connection, and the agent connects again; it never stops the agent.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import random
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from templater.agent.ports import PortScanner, shown
from templater.agent.ssh.server import SSHServer
from templater.agent.streams import StreamError, connect_back, open_datagram_stream, open_stream
from templater.health import HealthMonitor, Target, Transition
from templater.model.agent_messages import (
    CONTROL_PATH,
    MAX_MESSAGE,
    PORTS_EVERY,
    SSH_PORT,
    BadMessage,
    Checks,
    Health,
    HealthChange,
    Hello,
    Message,
    Open,
    Ports,
    Refused,
    decode,
    encode,
)
from templater.model.records import AgentCheck, ListeningPort
from templater.relay.upgrade import ControlPlane

logger = logging.getLogger("templater.agent")

FIRST_RETRY = 1.0
LAST_RETRY = 30.0
PING_EVERY = 5.0
PING_TIMEOUT = 10.0
"""With PING_EVERY: a control plane silent for 15 s is taken for gone, as the agent is by it."""


def retry_delays(rng: Callable[[], float] = random.random) -> Any:
    """1 s doubling to 30 s, each with up to half of it taken off at random (so that agents
    cut off together do not all come back in the same instant)."""
    delay = FIRST_RETRY
    while True:
        yield delay * (0.5 + 0.5 * rng())
        delay = min(delay * 2, LAST_RETRY)


class _Rejected(Exception):
    """The control plane answered the control channel's handshake with a refusal."""


class Agent:
    def __init__(self, plane: ControlPlane, token: str, version: str, ssh: SSHServer) -> None:
        self._plane = plane
        self._token = token
        self._version = version
        self._ssh = ssh
        self._channel: Any = None
        self._monitor = HealthMonitor(self._report_health)
        self._slugs: dict[int, str] = {}
        self._keys: dict[str, int] = {}
        self._unsent: dict[str, HealthChange] = {}
        self._app_ports: frozenset[int] = frozenset()
        self._ports: tuple[ListeningPort, ...] | None = None
        self._sent_ports: tuple[ListeningPort, ...] | None = None
        self._scanner = PortScanner()
        self._streams: set[asyncio.Task[Any]] = set()

    async def run(self) -> None:
        """Keep the control channel open until cancelled."""
        await self._monitor.start()
        watcher = asyncio.get_running_loop().create_task(self._watch_ports())
        try:
            delays = retry_delays()
            while True:
                established = False
                try:
                    closed_because = await self._session()
                    established = True
                except _Rejected as problem:
                    why = str(problem)
                except BadMessage as problem:
                    why = f"the control plane sent a message the agent cannot read ({problem})"
                except (OSError, TimeoutError) as problem:
                    why = f"cannot reach {self._plane.url}: {_reason(problem)}"
                except Exception as problem:  # the websockets library's protocol errors
                    why = f"the control channel failed: {_reason(problem)}"
                else:
                    why = "the control plane closed the control channel" + (
                        f" ({closed_because})" if closed_because else ""
                    )
                if established:
                    delays = retry_delays()
                delay = next(delays)
                logger.warning("%s; connecting again in %.1f s", why, delay)
                await asyncio.sleep(delay)
        finally:
            watcher.cancel()
            for task in list(self._streams):
                task.cancel()
            await self._ssh.close()
            await self._monitor.stop()

    async def _session(self) -> str:
        """One control channel, until it ends; raises for a failure to open it. Returns why
        the control plane closed it, as it said ("" when it did not say)."""
        from websockets.asyncio.client import connect, unix_connect
        from websockets.exceptions import ConnectionClosed, InvalidStatus

        scheme = "wss" if self._plane.tls else "ws"
        uri = f"{scheme}://{self._plane.authority}{CONTROL_PATH}"
        options: dict[str, Any] = {
            "additional_headers": {"Authorization": f"Bearer {self._token}"},
            "max_size": MAX_MESSAGE,
            "ping_interval": PING_EVERY,
            "ping_timeout": PING_TIMEOUT,
            "open_timeout": 10,
            "user_agent_header": f"templater-agent/{self._version}",
        }
        try:
            if self._plane.unix_socket is not None:
                channel = await unix_connect(self._plane.unix_socket, uri, **options)
            else:
                channel = await connect(uri, **options)
        except InvalidStatus as problem:
            raise _Rejected(_refusal(problem.response.status_code, problem.response.body)) from None
        logger.info("connected to %s", self._plane.url)
        self._channel = channel
        because = ""
        try:
            await channel.send(encode(_hello(self._version, self._ssh.public_key)))
            self._send_unsent()
            self._sent_ports = None
            await self._send_ports()
            async for text in channel:
                self._dispatch(decode(text))
        except ConnectionClosed as closed:
            because = closed.rcvd.reason if closed.rcvd is not None else ""
        finally:
            self._channel = None
            await channel.close()
        return because[:120]

    def _dispatch(self, message: Message) -> None:
        match message:
            case Checks():
                self._checks(message.checks, message.app_ports)
            case Open():
                task = asyncio.get_running_loop().create_task(self._open(message))
                self._streams.add(task)
                task.add_done_callback(self._streams.discard)
            case _:
                raise BadMessage(f"an agent never receives {type(message).__name__.lower()}")

    def _checks(self, checks: tuple[AgentCheck, ...], app_ports: tuple[int, ...]) -> None:
        """The apps to check, as the control plane has them now."""
        targets = []
        for check in checks:
            key = self._keys.setdefault(check.slug, len(self._keys) + 1)
            self._slugs[key] = check.slug
            host = _host(check.url)
            targets.append(
                Target(key, check.url, host, check.interval, check.threshold, check.health)
            )
        self._monitor.update(targets)
        self._app_ports = frozenset(app_ports)
        logger.info("checking %d apps", len(targets))

    async def _open(self, request: Open) -> None:
        if request.port == SSH_PORT:
            await self._open_ssh(request)
            return
        opening = open_datagram_stream if request.protocol == "udp" else open_stream
        try:
            stream = await opening(self._plane, request.id, request.port)
        except StreamError as problem:
            logger.info("stream to port %d: %s", request.port, problem)
            self._send(Refused(request.id, str(problem)))
            return
        except Exception as problem:  # a fault costs this stream, never the agent
            logger.warning("stream to port %d failed: %r", request.port, problem)
            self._send(Refused(request.id, f"port {request.port}: the agent failed"))
            return
        await stream

    async def _open_ssh(self, request: Open) -> None:
        """A stream to the agent's own SSH server: nothing to dial first."""
        try:
            transport, received = await connect_back(self._plane, request.id)
        except StreamError as problem:
            logger.info("SSH stream: %s", problem)
            self._send(Refused(request.id, str(problem)))
            return
        self._ssh.serve(transport, received)

    async def _report_health(self, transitions: list[Transition]) -> None:
        for transition in transitions:
            slug = self._slugs.get(transition.key)
            if slug is not None:
                self._unsent[slug] = HealthChange(
                    slug, transition.state, transition.reason, transition.at
                )
                logger.info("app %s is %s (%s)", slug, transition.state, transition.reason)
        self._send_unsent()

    def _send_unsent(self) -> None:
        if self._unsent and self._send(Health(tuple(self._unsent.values()))):
            self._unsent.clear()

    async def _watch_ports(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            found = await loop.run_in_executor(None, self._scanner.scan)
            self._ports = tuple(shown(found, self._app_ports))
            await self._send_ports()
            await asyncio.sleep(PORTS_EVERY)

    async def _send_ports(self) -> None:
        ports = self._ports
        if ports is not None and ports != self._sent_ports and self._send(Ports(ports)):
            self._sent_ports = ports

    def _send(self, message: Message) -> bool:
        """Send on the control channel if it is open; whether it was."""
        channel = self._channel
        if channel is None:
            return False
        task = asyncio.get_running_loop().create_task(channel.send(encode(message)))
        task.add_done_callback(_quietly)
        return True


def _hello(version: str, ssh_host_key: str) -> Hello:
    return Hello(
        version,
        platform.system().lower(),
        platform.machine(),
        socket.gethostname()[:255],
        ssh_host_key,
    )


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).hostname or "localhost"
    except ValueError:
        return "localhost"


def _refusal(status: int, body: bytes | bytearray | None) -> str:
    detail = bytes(body or b"").decode("utf-8", "replace").strip()[:200]
    if status in (401, 403):
        return f"the control plane refused the agent token (HTTP {status}): {detail or 'it is wrong or was replaced'}"
    if status == 404:
        return f"nothing at {CONTROL_PATH} (HTTP 404): is the URL templater's access URL?"
    return f"the control plane answered HTTP {status}: {detail}"


def _reason(problem: BaseException) -> str:
    if isinstance(problem, ConnectionRefusedError):
        return "connection refused"
    if isinstance(problem, TimeoutError):
        return "timed out"
    if isinstance(problem, socket.gaierror):
        return f"cannot resolve the host name ({problem.strerror})"
    return str(problem) or type(problem).__name__


def _quietly(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()  # a send on a closing channel: the session's end reports it


def prepare_state_dir(directory: Path) -> None:
    """The agent's own directory, readable by its user only."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)
