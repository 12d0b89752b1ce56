"""``templater server``: the control plane on one port, with its registry on the embedded
SQLite database by default."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

ADMIN_TOKEN_FILE = "admin-token"


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


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("templater"))


def server_config(
    data_dir: Path | None,
    listen: str,
    access_url: str | None,
    wildcard_access_url: str | None,
    database: str | None,
) -> ServerConfig:
    """The server's settings from its flags; raises ServerConfigError naming the bad flag."""
    host, separator, port_text = listen.rpartition(":")
    if not separator or not port_text.isdigit() or not 0 < int(port_text) < 65536:
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
        from templater.hostnames import HostnameError, compile_wildcard

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
    return ServerConfig(directory, host, port, url.rstrip("/"), wildcard_access_url, database)


def _write_admin_token(path: Path, token: str) -> None:
    """Only the owner may read the token: the file is created with mode 0600."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(token + "\n")


def _raise_open_file_limit() -> None:
    """Every check of an app that hangs holds a connection until its timeout: allow as many
    open files as the system lets this process have."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run(config: ServerConfig) -> int:
    import uvicorn

    class _GracefulServer(uvicorn.Server):
        """Stops on SIGINT or SIGTERM as uvicorn does (requests in flight finish first), then
        returns instead of dying by the signal, so the store closes and the status is 0."""

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            super().handle_exit(sig, frame)
            self._captured_signals.clear()
            # Event streams never end by themselves: end them so that shutdown does not wait.
            asyncio.get_running_loop().call_soon_threadsafe(app.state.events.close)

    from templater.hostnames import compile_wildcard
    from templater.server.api import Deployment, create_app
    from templater.server.store import Store, StoreError

    try:
        config.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as problem:
        raise ServerConfigError(f"--data-dir {config.data_dir}: {problem.strerror}") from None
    _raise_open_file_limit()
    store = Store(config.database)
    try:
        store.migrate()
        if not store.has_users():
            _, token = store.create_user("admin", "admin")
            path = config.data_dir / ADMIN_TOKEN_FILE
            path.unlink(missing_ok=True)
            _write_admin_token(path, token)
            print(f"Created the admin user; its token is in {path}", file=sys.stderr)
    except StoreError as problem:
        store.close()
        raise ServerConfigError(f"--database: {problem}") from None
    wildcard = compile_wildcard(config.wildcard_access_url) if config.wildcard_access_url else None
    app = create_app(store, Deployment(config.access_url, wildcard))
    print(
        f"templater server listening on http://{config.host}:{config.port} "
        f"(access URL {config.access_url})",
        file=sys.stderr,
    )
    server = _GracefulServer(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_level="warning",
            timeout_graceful_shutdown=10,
        )
    )
    try:
        server.run()
    finally:
        store.close()
    print("templater server stopped", file=sys.stderr)
    return 0 if server.started else 1
