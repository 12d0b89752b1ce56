"""``templater server``: the control plane on one port, with its registry on the embedded
SQLite database by default."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from templater.model.limits import (
    DEFAULT_APPS_PER_WORKSPACE,
    DEFAULT_CHECKS_PER_SECOND,
    DEFAULT_LIMITS,
    DEFAULT_STREAMS_PER_AGENT,
    DEFAULT_WORKSPACES_PER_USER,
    HIGHEST_LIMIT,
    MemberLimits,
)
from templater.server.logs import LOG_FORMATS, server_log
from templater.server.router.exchange import DEFAULT_MAX_BODY
from templater.server.router.sessions import SECRET_NAME

if TYPE_CHECKING:
    from templater.server.hub import AgentHub, HubService
    from templater.server.router.proxy import ProxyServer
    from templater.server.store import Store
    from templater.server.streams import StreamBroker

ADMIN_TOKEN_FILE = "admin-token"
BIND_RETRY_SECONDS = 10.0
"""How long a start waits for its port to be free: the workers of a server just killed may
still hold it for a moment."""


class ServerConfigError(ValueError):
    """A server flag that cannot work, with what to give instead."""


@dataclass(frozen=True, slots=True)
class ServerConfig:
    data_dir: Path
    host: str
    port: int
    access_url: str
    wildcard_access_url: str | None
    database: str
    workers: int
    log_format: str = "text"
    listen_unix: str | None = None
    """A Unix socket the front port is served on too (the main process's)."""
    max_body: int = DEFAULT_MAX_BODY
    """Bytes of a request body the API reads at most."""
    limits: MemberLimits = DEFAULT_LIMITS
    """How much one member's workspaces may load the control plane."""


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("templater"))


def server_config(
    data_dir: Path | None,
    listen: str,
    access_url: str | None,
    wildcard_access_url: str | None,
    database: str | None,
    workers: int | None = None,
    log_format: str = "text",
    listen_unix: str | None = None,
    max_body: str | None = None,
    max_apps_per_workspace: int | None = None,
    max_workspaces_per_user: int | None = None,
    max_checks_per_second: int | None = None,
    max_streams_per_agent: int | None = None,
) -> ServerConfig:
    """The server's settings from its flags; raises ServerConfigError naming the bad flag."""
    host, separator, port_text = listen.rpartition(":")
    if (
        not separator
        or not (port_text.isascii() and port_text.isdigit())
        or not 0 < int(port_text) < 65536
    ):
        raise ServerConfigError(f"--listen {listen!r}: give HOST:PORT, such as 127.0.0.1:7080")
    host = host.strip("[]") or "127.0.0.1"
    port = int(port_text)
    url = access_url or f"http://{listen if host != '0.0.0.0' else f'127.0.0.1:{port}'}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ServerConfigError(
            f"--access-url {url!r}: give the URL users reach templater at, such as "
            "https://templater.example.com"
        )
    if wildcard_access_url:
        from templater.model.hostnames import HostnameError, compile_wildcard

        try:
            compile_wildcard(wildcard_access_url)
        except HostnameError as problem:
            raise ServerConfigError(
                f"--wildcard-access-url {wildcard_access_url!r}: {problem}"
            ) from None
    directory = data_dir or default_data_dir()
    if database is None:
        database = f"sqlite:///{directory / 'templater.db'}"
    elif database.startswith(("postgresql://", "postgres://")):
        database = "postgresql+psycopg://" + database.split("://", 1)[1]
    elif not database.startswith(("postgresql+psycopg://", "sqlite:///")):
        raise ServerConfigError(
            f"--database {database!r}: give postgresql://USER@HOST:PORT/NAME (or leave it out "
            "for the embedded SQLite database)"
        )
    if workers is None:
        workers = os.cpu_count() or 1
    elif not 1 <= workers <= 64:
        raise ServerConfigError(f"--workers {workers}: give 1 to 64 processes")
    if log_format not in LOG_FORMATS:
        raise ServerConfigError(f"--log-format {log_format!r}: give {' or '.join(LOG_FORMATS)}")
    return ServerConfig(
        directory,
        host,
        port,
        url.rstrip("/"),
        wildcard_access_url,
        database,
        workers,
        log_format,
        listen_unix,
        DEFAULT_MAX_BODY if max_body is None else _size("--max-body", max_body),
        MemberLimits(
            _limit("--max-apps-per-workspace", max_apps_per_workspace, DEFAULT_APPS_PER_WORKSPACE),
            _limit(
                "--max-workspaces-per-user", max_workspaces_per_user, DEFAULT_WORKSPACES_PER_USER
            ),
            _limit("--max-checks-per-second", max_checks_per_second, DEFAULT_CHECKS_PER_SECOND),
            _limit("--max-streams-per-agent", max_streams_per_agent, DEFAULT_STREAMS_PER_AGENT),
        ),
    )


def _limit(flag: str, given: int | None, default: int) -> int:
    if given is None:
        return default
    if not 1 <= given <= HIGHEST_LIMIT:
        raise ServerConfigError(f"{flag} {given}: give 1 to {HIGHEST_LIMIT:,} (default {default})")
    return given


_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def _size(flag: str, text: str) -> int:
    """Bytes from ``16M``, ``512K``, ``1G`` or a plain number; ServerConfigError naming ``flag``."""
    digits, unit = text.strip().upper().rstrip("IB"), ""
    if digits[-1:] in _UNITS:
        digits, unit = digits[:-1], digits[-1]
    if not (digits.isascii() and digits.isdigit()) or int(digits) == 0:
        raise ServerConfigError(f"{flag} {text!r}: give a size such as 16M, 512K or 1G")
    return int(digits) * _UNITS[unit]


def _write_admin_token(path: Path, token: str) -> None:
    """Only the owner may read the token: the file is created with mode 0600."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(token + "\n")


def _hold_sqlite_lock(database: str) -> int | None:
    """The lock beside an SQLite database (``PATH.lock``), held while this server runs: a second
    server on the same file would serve what its caches and agents' connections no longer
    match. Raises ServerConfigError naming the server that holds it. None for PostgreSQL, where
    several servers are the way to scale out."""
    import fcntl

    from sqlalchemy.engine import make_url

    if not database.startswith("sqlite:///"):
        return None
    path = Path(f"{make_url(database).database}.lock")
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as problem:
        raise ServerConfigError(f"--data-dir: {path}: {problem.strerror}") from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(descriptor, 32).decode("ascii", "replace").strip() or "unknown"
        os.close(descriptor)
        raise ServerConfigError(
            f"another templater server (pid {holder}) is serving {path.with_suffix('')}; stop "
            "it first, or give this one its own --data-dir (several servers share a "
            "PostgreSQL --database instead)"
        ) from None
    os.fchmod(descriptor, 0o600)
    os.ftruncate(descriptor, 0)
    os.write(descriptor, f"{os.getpid()}\n".encode())
    return descriptor


def _check_sqlite_files(database: str) -> None:
    """SQLite opens a database file it cannot write read-only and fails later, or dies of
    SIGBUS on a shared-memory file it cannot write: refuse to start unless the database's
    directory and its files (the database, its WAL and shared memory, those that exist) can be
    written, naming the one that cannot."""
    from templater.server.store.database import shared_memory_file

    shared_memory = shared_memory_file(database)
    if shared_memory is None:
        return
    path = shared_memory.with_name(shared_memory.name.removesuffix("-shm"))
    if not os.access(path.parent, os.W_OK):
        raise ServerConfigError(
            f"--database {path}: its directory {path.parent} is not writable; SQLite keeps "
            "the database's WAL and shared-memory files beside it"
        )
    for member in (path, path.with_name(path.name + "-wal"), shared_memory):
        try:
            os.close(os.open(member, os.O_RDWR))
        except FileNotFoundError:
            continue
        except OSError as problem:
            raise ServerConfigError(
                f"--database {path}: {member} is not writable ({problem.strerror}; immutable? "
                "see lsattr); SQLite needs to write it"
            ) from None


def _report_fatal_signals(database: str) -> None:
    """A fatal signal (SIGBUS above all: see ``shared_memory_file``) kills this process before
    any Python code can say why, and faulthandler's own report is a traceback. Instead
    faulthandler writes its report down a pipe to a small process forked here, which logs one
    line about it once this one is gone. Forked before the lock, any socket or any thread
    exists, so that it holds none of them; it ends when the pipe does, however this process
    ends."""
    import faulthandler
    import signal

    from templater.server.store.database import SHARED_MEMORY_FAULT, shared_memory_file

    reader, writer = os.pipe()
    if os.fork() != 0:
        os.close(reader)
        faulthandler.enable(writer, all_threads=False)
        return
    try:
        os.close(writer)
        # Ctrl-C and signals to the whole group are for the server: this process ends with it.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        report = b""
        while chunk := os.read(reader, 4096):
            report = (report + chunk)[:4096]
        what = report.partition(b"\n")[0].removeprefix(b"Fatal Python error: ").decode()
        shared_memory = shared_memory_file(database)
        if what == "Bus error" and shared_memory is not None:
            server_log.error(
                f"the server died of SIGBUS: {SHARED_MEMORY_FAULT}; start it again once the "
                "file can be written file=%s",
                shared_memory,
            )
        elif what:
            server_log.error("the server died of a fatal error error=%s", what)
    finally:
        os._exit(0)


def _raise_open_file_limit() -> None:
    """Every check of an app that hangs holds a connection until its timeout: allow as many
    open files as the system lets this process have."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run(config: ServerConfig) -> int:
    """Serve until SIGINT or SIGTERM; the exit status."""
    import uvloop

    from templater.server.logs import configure
    from templater.server.store import Store, StoreError

    configure(config.log_format)
    _report_fatal_signals(config.database)
    try:
        # Its own: the database, its secrets and the admin token are the owner's only.
        config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        config.data_dir.chmod(0o700)
        token_file = config.data_dir / ADMIN_TOKEN_FILE
        if token_file.exists():
            token_file.chmod(0o600)
    except OSError as problem:
        raise ServerConfigError(f"--data-dir {config.data_dir}: {problem.strerror}") from None
    _raise_open_file_limit()
    lock = _hold_sqlite_lock(config.database)
    _check_sqlite_files(config.database)
    store = Store(config.database)
    try:
        store.migrate()
        if not store.has_users():
            _, token = store.create_user("admin", "admin")
            path = config.data_dir / ADMIN_TOKEN_FILE
            path.unlink(missing_ok=True)
            _write_admin_token(path, token)
            server_log.info("created the admin user token_file=%s", path)
        secret = store.secret(SECRET_NAME)
    except StoreError as problem:
        store.close()
        raise ServerConfigError(f"--database: {problem}") from None
    try:
        started = uvloop.run(_serve(config, store, secret))
    finally:
        store.close()
        if lock is not None:
            os.close(lock)
    server_log.info("stopped")
    return 0 if started else 1


async def _serve(config: ServerConfig, store: Store, secret: bytes) -> bool:
    """The front port (apps, and the API behind it) until a signal; whether it started.

    The API runs in uvicorn on a private Unix socket; the proxy in front of it owns the port, in
    this process and in ``config.workers - 1`` more, so that app requests never pay for a
    framework."""
    import uvicorn

    from templater.model.agent_messages import MAX_MESSAGE
    from templater.model.hostnames import compile_wildcard
    from templater.server.agent_channel import agent_channel_router
    from templater.server.api import Deployment, create_app
    from templater.server.dashboard import dashboard_router
    from templater.server.event_relay import EventRelay
    from templater.server.hub import hub_socket
    from templater.server.router.directory import Directory
    from templater.server.router.front import (
        FrontSettings,
        front_proxy,
        shared_generation,
        start_workers,
        stop_workers,
    )
    from templater.server.router.sessions import SessionSigner

    wildcard = compile_wildcard(config.wildcard_access_url) if config.wildcard_access_url else None
    generation = shared_generation()
    directory = Directory(store, generation)
    hub: AgentHub | None = None

    def agents_changed() -> None:
        if hub is not None:
            hub.registry_changed()

    app = create_app(
        store,
        Deployment(config.access_url, wildcard),
        on_registry_change=directory.forget,
        on_agents_changed=agents_changed,
        limits=config.limits,
    )
    app.include_router(
        dashboard_router(
            store,
            SessionSigner(secret),
            app.state.events,
            config.access_url,
            wildcard,
            on_session_end=directory.forget,
            registry_changed=directory.forget,
        )
    )
    with tempfile.TemporaryDirectory(prefix="templater-") as private:
        settings = FrontSettings(
            config.host,
            config.port,
            config.access_url,
            config.wildcard_access_url,
            config.database,
            secret,
            str(Path(private) / "api.sock"),
            config.log_format,
            private,
            config.max_body,
        )
        broker = app.state.events
        # The servers of one PostgreSQL registry tell each other their agents' events.
        relay = (
            EventRelay(config.database, broker.publish)
            if config.database.startswith("postgresql")
            else None
        )

        def publish(events: list[Any]) -> None:
            broker.publish(events)
            if relay is not None:
                relay.send(events)

        # Routes name the agent's state.
        hub, service, streams = _agent_hub(store, publish, directory.forget, private, config.limits)
        app.include_router(agent_channel_router(store, hub))
        proxy = front_proxy(settings, directory, streams)

        class _GracefulServer(uvicorn.Server):
            """Stops on SIGINT or SIGTERM as uvicorn does (requests in flight finish first),
            then returns instead of dying by the signal, so the store closes and the status
            is 0."""

            def handle_exit(self, sig: int, frame: FrameType | None) -> None:
                super().handle_exit(sig, frame)
                self._captured_signals.clear()
                # From a signal handler: act on the loop. Event streams never end by themselves:
                # end them so that shutdown does not wait.
                loop = asyncio.get_running_loop()
                loop.call_soon_threadsafe(proxy.stop_accepting)
                loop.call_soon_threadsafe(app.state.events.close)

        api = _GracefulServer(
            uvicorn.Config(
                app,
                uds=settings.api_socket,
                log_config=None,  # the records go to the server's own handler (logs.configure)
                log_level="warning",
                access_log=False,  # AccessLog writes each request's line, with its user
                timeout_graceful_shutdown=10,
                ws_max_size=MAX_MESSAGE,
                # An agent silent for 15 s is gone (SPEC §11).
                ws_ping_interval=5,
                ws_ping_timeout=10,
            )
        )
        if relay is not None:
            await relay.start()
        await hub.recover()
        await streams.start()
        await service.start(hub_socket(private))
        await _listen(proxy, config.host, config.port)
        if config.listen_unix is not None:
            await _listen_unix(proxy, config.listen_unix)
        workers = start_workers(config.workers - 1, settings, generation)
        server_log.info(
            "listening url=%s access_url=%s processes=%d",
            f"http://{config.host}:{config.port}",
            config.access_url,
            config.workers,
        )
        try:
            await api.serve()
        finally:
            stop_workers(workers)
            await proxy.close()
            await hub.close()
            await service.close()
            await streams.close()
            if relay is not None:
                await asyncio.to_thread(relay.close)
        return api.started


def _agent_hub(
    store: Store,
    publish: Callable[[list[Any]], None],
    state_changed: Callable[[], None],
    private: str,
    limits: MemberLimits,
) -> tuple[AgentHub, HubService, StreamBroker]:
    """The agents' hub, its service to the other processes, and this process's streams."""
    from templater.server.hub import AgentHub, HubService
    from templater.server.streams import StreamBroker

    service: HubService | None = None
    streams: StreamBroker | None = None

    def refused(stream_id: str, reason: str) -> None:
        assert service is not None and streams is not None
        if not service.refused(stream_id, reason):
            streams.refused(stream_id, reason)

    hub = AgentHub(store, publish, refused, state_changed, limits)
    service = HubService(hub)
    streams = StreamBroker(0, private, hub.request_stream, hub.release_stream)
    return hub, service, streams


async def _listen_unix(proxy: ProxyServer, path: str) -> None:
    """Serve on ``path`` too; one left by a server that died is replaced, anything else there
    is an error."""
    import stat

    try:
        if stat.S_ISSOCK(os.stat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as problem:
        raise ServerConfigError(f"--listen-unix {path}: {problem.strerror}") from None
    try:
        await proxy.start_unix(path)
    except OSError as problem:
        raise ServerConfigError(f"--listen-unix {path}: {problem.strerror}") from None


async def _listen(proxy: ProxyServer, host: str, port: int) -> None:
    """Bind the front port. While something holds it, retry for BIND_RETRY_SECONDS (saying so,
    once): the workers of a server that was just killed let go of it as they exit."""
    from templater.server.router.front import check_port_free

    loop = asyncio.get_running_loop()
    deadline = loop.time() + BIND_RETRY_SECONDS
    address = f"{host}:{port}"
    said = False
    while True:
        try:
            check_port_free(host, port)
            await proxy.start(host, port)
            return
        except OSError as problem:
            if problem.errno != errno.EADDRINUSE:
                raise ServerConfigError(f"--listen {address}: {problem.strerror}") from None
            if loop.time() >= deadline:
                raise ServerConfigError(
                    f"--listen {address}: the address is still in use after "
                    f"{BIND_RETRY_SECONDS:g} s; stop what listens there, or choose another port"
                ) from None
        if not said:
            said = True
            server_log.warning(
                "the port is still held, retrying address=%s for_seconds=%d",
                address,
                BIND_RETRY_SECONDS,
            )
        await asyncio.sleep(0.2)
