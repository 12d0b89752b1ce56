"""Debian's chromium for the browser tests, driven by Playwright: one fresh browser per person,
started with the flags this machine's closed network needs, and a server it can reach."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import BrowserContext, Playwright

from .conftest import CHROMIUM
from .test_server import Server, free_port, serving

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these, chromium's own connections are refused by the closed network, many at once.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def browser(playwright: Playwright) -> Iterator[BrowserContext]:
    """A fresh chromium with its own empty profile, as one person's browser, its window the size
    of a laptop's screen."""
    profile = tempfile.mkdtemp(prefix="templater-chromium-")
    try:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(15_000)
        try:
            yield context
        finally:
            context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


WILDCARD = "apps.localhost"


def serving_browsers(tmp_path: Path) -> Iterator[tuple[Server, int]]:
    """A server and its port, its access URL (``http://localhost:PORT``) and app hosts
    (``*.apps.localhost:PORT``) all under ``localhost``, which chromium resolves to loopback by
    itself."""
    port = free_port()
    for server in serving(
        tmp_path,
        "--access-url",
        f"http://localhost:{port}",
        "--wildcard-access-url",
        "*." + WILDCARD,
        port=port,
    ):
        yield server, port
