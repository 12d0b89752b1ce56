"""A problem told once: a forward that keeps failing the same way says so on its first failure,
and again only after it has worked in between (SPEC §9: a refused port "says so once")."""

from __future__ import annotations

from collections.abc import Callable


class Notice:
    def __init__(self, say: Callable[[str], None]) -> None:
        self._say = say
        self._said = False

    def failed(self, message: str) -> None:
        if not self._said:
            self._said = True
            self._say(message)

    def worked(self) -> None:
        self._said = False
