"""The registry as the app router reads it: apps, ports, users and sign-in tickets, with recent
answers kept in memory so that a request to a known app does not wait on the database.

Answers are kept for ``ttl`` seconds; the API calls ``forget()`` after every change it makes, so a
server sees its own changes at once (in every one of its processes: ``forget()`` moves a counter
in shared memory that each process's directory watches) and servers sharing one PostgreSQL
database see each other's within ``ttl``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from templater.model.records import AppRoute, PortRoute, User
from templater.server.store import Store

T = TypeVar("T")

_CACHE_LIMIT = 100_000
"""Answers kept at most; past it, the oldest half goes."""


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
        self._answers: dict[tuple[Any, ...], tuple[float, Any]] = {}

    def forget(self) -> None:
        """Drop every kept answer, here and in the server's other processes (the registry
        changed). Safe to call from any thread."""
        self._generation.value += 1
        self._answers = {}

    async def app(self, owner: str, workspace: str, slug: str) -> AppRoute | None:
        return await self._cached(("app", owner, workspace, slug), self._store.app_route)

    async def port(self, owner: str, workspace: str, agent: str, port: int) -> PortRoute | None:
        return await self._cached(("port", owner, workspace, agent, port), self._store.port_route)

    async def user_by_token(self, token: str) -> User | None:
        return await self._cached(("token", token), self._store.user_by_token)

    async def user_by_name(self, name: str) -> User | None:
        return await self._cached(("user", name), self._store.user_by_name)

    async def redeem_ticket(self, ticket: str, host: str) -> User | None:
        """The user a sign-in ticket was issued to, once; never kept."""
        return await _in_thread(self._store.redeem_ticket, ticket, host)

    async def _cached(self, key: tuple[Any, ...], lookup: Callable[..., T]) -> T:
        generation = self._generation.value
        if generation != self._seen:
            self._seen = generation
            self._answers = {}
        now = time.monotonic()
        kept = self._answers.get(key)
        if kept is not None and kept[0] > now:
            return kept[1]  # type: ignore[no-any-return]
        answers = self._answers
        value = await _in_thread(lookup, *key[1:])
        if len(answers) >= _CACHE_LIMIT:
            for old in list(answers)[: _CACHE_LIMIT // 2]:
                answers.pop(old, None)
        answers[key] = (now + self._ttl, value)
        return value


async def _in_thread(function: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(None, function, *args)
