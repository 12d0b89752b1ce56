"""The router's directory: answers kept for a while, within a bound in bytes (SPEC §15)."""

from __future__ import annotations

import asyncio
from typing import Any

from templater.model.records import User
from templater.server.router.directory import _CACHE_BYTES, _ENTRY_COST, Directory


class CountingStore:
    """Knows no token; counts the lookups."""

    def __init__(self) -> None:
        self.lookups: list[str] = []

    def user_by_token(self, token: str) -> User | None:
        self.lookups.append(token)
        return None

    def app_route(self, *key: Any) -> None:
        self.lookups.append("/".join(map(str, key)))


def _directory(ttl: float = 60.0) -> tuple[Directory, CountingStore]:
    store = CountingStore()
    return Directory(store, ttl=ttl), store  # type: ignore[arg-type]


def test_an_answer_is_kept_until_it_expires() -> None:
    async def run() -> None:
        kept, store = _directory()
        for _ in range(3):
            await kept.user_by_token("tpl_a")
        assert store.lookups == ["tpl_a"]
        expired, store = _directory(ttl=0.0)
        for _ in range(3):
            await expired.user_by_token("tpl_a")
        assert store.lookups == ["tpl_a"] * 3

    asyncio.run(run())


def test_a_key_longer_than_any_real_one_is_looked_up_but_never_kept() -> None:
    async def run() -> None:
        directory, store = _directory()
        long_slug = "s" * 5000
        for _ in range(2):
            await directory.app("alice", "dev", long_slug)
        assert len(store.lookups) == 2

    asyncio.run(run())


def test_names_no_registry_holds_are_not_looked_up() -> None:
    async def run() -> None:
        directory, store = _directory()
        assert await directory.app("a" * 33, "dev", "web") is None
        assert await directory.port("alice", "w" * 33, "main", 8080) is None
        assert store.lookups == []

    asyncio.run(run())


def test_the_kept_answers_stay_within_their_bytes_and_the_oldest_go_first() -> None:
    token_size = 200
    fits = _CACHE_BYTES // (token_size + _ENTRY_COST)

    async def run() -> None:
        directory, store = _directory()
        tokens = [f"tpl_{number:0{token_size - 4}d}" for number in range(fits + 1000)]
        for token in tokens:
            await directory.user_by_token(token)
        assert directory._answers.size <= _CACHE_BYTES
        store.lookups.clear()
        await directory.user_by_token(tokens[-1])  # among the newest: still kept
        await directory.user_by_token(tokens[0])  # the oldest: dropped for the newer ones
        assert store.lookups == [tokens[0]]

    asyncio.run(run())
