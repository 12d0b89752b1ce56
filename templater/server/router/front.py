"""The front port: the app router and its proxy, run in the server's own process and in worker
processes beside it (``--workers``), all accepting on the same port (SO_REUSEPORT), the way nginx
runs a worker per core.

The API, the health monitor and every write to the registry stay in the main process; a worker
only reads the registry and passes requests on, to the API behind its Unix socket too. When the
API changes the registry, a counter in shared memory tells every worker to forget what it
knew."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import socket
from dataclasses import dataclass
from multiprocessing.process import BaseProcess

from templater.server.logs import server_log
from templater.server.router.directory import Directory, Generation
from templater.server.router.exchange import DEFAULT_MAX_BODY, Upstream
from templater.server.router.proxy import ProxyServer
from templater.server.store import Store
from templater.server.store.database import SHARED_MEMORY_FAULT, shared_memory_file
from templater.server.streams import StreamBroker

_PR_SET_PDEATHSIG = 1
_SPAWN = multiprocessing.get_context("spawn")
"""Workers start from a fresh interpreter: nothing of the main process's threads, event loop or
database connections comes along."""


@dataclass(frozen=True, slots=True)
class FrontSettings:
    """What any process serving the front port needs to know."""

    host: str
    port: int
    access_url: str
    wildcard_access_url: str | None
    database: str
    secret: bytes
    api_socket: str
    log_format: str = "text"
    private_dir: str = ""
    """Where the server's processes keep their sockets (the API's, the hub's, the streams')."""
    max_body: int = DEFAULT_MAX_BODY
    """Bytes of a request body the API is sent at most."""


def shared_generation() -> Generation:
    """A counter every worker can see, for ``Directory``."""
    generation: Generation = _SPAWN.RawValue("Q", 0)
    return generation


def front_proxy(
    settings: FrontSettings, directory: Directory, streams: StreamBroker | None = None
) -> ProxyServer:
    """The proxy with its router, not yet listening."""
    from templater.model.hostnames import compile_wildcard
    from templater.server.router.routing import AppRouter
    from templater.server.router.sessions import SessionSigner

    wildcard = settings.wildcard_access_url
    router = AppRouter(
        settings.access_url,
        compile_wildcard(wildcard) if wildcard else None,
        directory,
        SessionSigner(settings.secret),
        Upstream("localhost", 0, path=settings.api_socket),
        settings.max_body,
    )
    return ProxyServer(router, streams)


def check_port_free(host: str, port: int) -> None:
    """Raise OSError when something else listens on ``host:port``: the front port is bound with
    SO_REUSEPORT, which would otherwise let a second server share it silently."""
    socket.create_server((host, port)).close()


def start_workers(count: int, settings: FrontSettings, generation: Generation) -> list[BaseProcess]:
    """The workers, started; one killed by a signal while the server runs (``stop_workers``
    is the end) is logged by the running loop, since it could not say so itself."""
    workers: list[BaseProcess] = [
        _SPAWN.Process(
            target=_worker,
            args=(settings, generation, os.getpid(), number),
            name=f"templater-front-{number}",
            daemon=True,
        )
        for number in range(1, count + 1)
    ]
    loop = asyncio.get_running_loop()
    for number, worker in enumerate(workers, 1):
        worker.start()
        loop.add_reader(worker.sentinel, _ended, loop, worker, number, settings.database)
    return workers


def _ended(
    loop: asyncio.AbstractEventLoop, worker: BaseProcess, number: int, database: str
) -> None:
    loop.remove_reader(worker.sentinel)
    worker.join()
    code = worker.exitcode
    # A worker asked to stop exits 0; one that failed in Python has printed why.
    if code is None or code >= 0 or -code in (signal.SIGTERM, signal.SIGINT):
        return
    shared_memory = shared_memory_file(database)
    if code == -signal.SIGBUS and shared_memory is not None:
        server_log.error(
            f"a worker died of SIGBUS: {SHARED_MEMORY_FAULT} worker=%d file=%s",
            number,
            shared_memory,
        )
    else:
        server_log.error("a worker died worker=%d error=%s", number, signal.strsignal(-code))


def stop_workers(workers: list[BaseProcess]) -> None:
    loop = asyncio.get_running_loop()
    for worker in workers:
        loop.remove_reader(worker.sentinel)
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
    for worker in workers:
        worker.join(10)
        if worker.is_alive():
            worker.kill()


def _worker(settings: FrontSettings, generation: Generation, parent: int, number: int) -> None:
    import uvloop

    from templater.server.logs import configure

    _end_with_parent()
    if os.getppid() != parent:  # the main process died before this one could ask to follow it
        return
    configure(settings.log_format)
    uvloop.run(_serve_front(settings, generation, parent, number))


def _end_with_parent() -> None:
    """Have Linux send SIGTERM to this worker when the main process dies, even by SIGKILL, so
    that the port is free for a restart at once (elsewhere the worker notices within a
    second)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


async def _serve_front(
    settings: FrontSettings, generation: Generation, parent: int, number: int
) -> None:
    """A worker: serve the front port until told to stop, or until the main process is gone."""
    from templater.server.hub import HubLink, hub_socket

    store = Store(settings.database)
    streams: StreamBroker | None = None

    def refused(stream_id: str, reason: str) -> None:
        if streams is not None:
            streams.refused(stream_id, reason)

    link = HubLink(number, hub_socket(settings.private_dir), refused)
    streams = StreamBroker(number, settings.private_dir, link.request, link.release)
    await streams.start()
    proxy = front_proxy(settings, Directory(store, generation), streams)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    try:
        await proxy.start(settings.host, settings.port)
        while not stop.is_set() and os.getppid() == parent:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1)
    finally:
        await proxy.close()
        await link.close()
        await streams.close()
        store.close()
