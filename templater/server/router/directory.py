"""The registry as the app router reads it: apps, ports, users (by token or session) and sign-in
tickets, with recent answers kept in memory so that a request to a known app does not wait on the
database.

Answers are kept for ``ttl`` seconds; the API calls ``forget()`` after every change it makes, so a
server sees its own changes at once (in every one of its processes: ``forget()`` moves a counter
in shared memory that each process's directory watches) and servers sharing one PostgreSQL
database see each other's within ``ttl``.

What anonymous requests can make it keep is bounded (SPEC §15): the answers take at most
``_CACHE_BYTES``, expired ones go first, and a key too long to name anything in the registry is
never kept."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from templater.model.records import AgentRoute, AppRoute, BrowserSession, PortRoute, User
from templater.server.store import NAME_LIMIT, Store

T = TypeVar("T")

_CACHE_BYTES = 16 * 1024 * 1024
"""What the kept answers may take, counted as their keys' text plus ``_ENTRY_COST`` each; past it
the oldest go."""
_ENTRY_COST = 512
"""What one kept answer takes besides its key's text: the tuples, the dictionary's slot and the
record (a user or a route)."""
_KEY_LIMIT = 1024
"""Keys with more text than this are looked up but never kept: no name or token in the registry
is that long, so only a made-up one could be."""


class Generation(Protocol):
    """A counter shared by a server's processes (a ``multiprocessing`` shared value)."""

    value: int


class _Local:
    value = 0


class Directory:
    def __init__(
        self, store: Store, generation: Generation | None = None, ttl: float = 5.0
    ) -> None:
        self._store = store
        self._ttl = ttl
        self._generation = generation if generation is not None else _Local()
        self._seen = self._generation.value
        self._answers = _Answers()

    def forget(self) -> None:
        """Drop every kept answer, here and in the server's other processes (the registry
        changed). Safe to call from any thread."""
        self._generation.value += 1
        self._answers = _Answers()

    async def app(self, owner: str, workspace: str, slug: str) -> AppRoute | None:
        if not _may_exist(owner, workspace):
            return None
        return await self._cached(("app", owner, workspace, slug), self._store.app_route)

    async def port(self, owner: str, workspace: str, agent: str, port: int) -> PortRoute | None:
        if not _may_exist(owner, workspace):
            return None
        return await self._cached(("port", owner, workspace, agent, port), self._store.port_route)

    async def agents(self, owner: str, workspace: str) -> tuple[AgentRoute, ...]:
        if not _may_exist(owner, workspace):
            return ()
        return await self._cached(("agents", owner, workspace), self._store.agent_routes)

    async def user_by_token(self, token: str) -> User | None:
        return await self._cached(("token", token), self._store.user_by_token)

    async def user_by_session(self, session: int) -> User | None:
        return await self._cached(("session", session), self._store.user_by_session)

    async def redeem_ticket(self, ticket: str, host: str) -> BrowserSession | None:
        """The session a sign-in ticket carries, once; never kept."""
        return await _in_thread(self._store.redeem_ticket, ticket, host)

    async def _cached(self, key: tuple[Any, ...], lookup: Callable[..., T]) -> T:
        generation = self._generation.value
        if generation != self._seen:
            self._seen = generation
            self._answers = _Answers()
        now = time.monotonic()
        # The answers of now: forget() may replace them while the lookup runs, and what it
        # finds then must not outlive the forgetting.
        answers = self._answers
        kept = answers.get(key, now)
        if kept is not _MISSING:
            return kept  # type: ignore[no-any-return]
        value = await _in_thread(lookup, *key[1:])
        answers.keep(key, value, now + self._ttl)
        return value


_MISSING = object()


class _Answers:
    """Answers by key, oldest first, each with its expiry and its cost in bytes. Every answer lives
    equally long, so the oldest is also the first to expire."""

    def __init__(self) -> None:
        self._kept: OrderedDict[tuple[Any, ...], tuple[float, Any, int]] = OrderedDict()
        self._bytes = 0

    def get(self, key: tuple[Any, ...], now: float) -> Any:
        kept = self._kept.get(key)
        return kept[1] if kept is not None and kept[0] > now else _MISSING

    def keep(self, key: tuple[Any, ...], value: Any, expires: float) -> None:
        text = sum(len(part) if isinstance(part, str) else 8 for part in key)
        if text > _KEY_LIMIT:
            return
        cost = text + _ENTRY_COST
        replaced = self._kept.pop(key, None)
        if replaced is not None:
            self._bytes -= replaced[2]
        now = time.monotonic()
        while self._kept:
            oldest_expires, _, oldest_cost = next(iter(self._kept.values()))
            if oldest_expires > now and self._bytes + cost <= _CACHE_BYTES:
                break
            self._kept.popitem(last=False)
            self._bytes -= oldest_cost
        self._kept[key] = (expires, value, cost)
        self._bytes += cost

    @property
    def size(self) -> int:
        """The bytes the kept answers are counted at."""
        return self._bytes


def _may_exist(owner: str, workspace: str) -> bool:
    """Whether a user and workspace of these names could be in the registry: longer names are
    never stored, so no lookup need wait on the database for them."""
    return len(owner) <= NAME_LIMIT and len(workspace) <= NAME_LIMIT


async def _in_thread(function: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(None, function, *args)
