"""How fast one agent's reports of health reach the registry (SPEC §15): no faster than its checks
may run. Each change it reports follows one of its checks, so an honest agent stays within
``--max-checks-per-second`` and may send all its apps' changes at once; one that reports faster
(whatever it claims, it is hostile input) has its changes coalesced, the latest of each app
waiting for its turn, instead of costing the registry a write each."""

from __future__ import annotations

from collections.abc import Iterable

from templater.model.agent_messages import HealthChange

_SLACK = 1e-9  # a budget short of a whole change by float error alone lets it through


class HealthReports:
    """An agent's changes of health waiting to be stored, and the budget they are stored within:
    ``per_second`` changes a second, up to ``burst`` at once. Times are any monotonic clock's
    seconds."""

    def __init__(self, per_second: int, burst: int, now: float) -> None:
        self._per_second = per_second
        self._burst = burst
        self._budget = float(burst)
        self._at = now
        self._waiting: dict[str, HealthChange] = {}

    def add(self, changes: Iterable[HealthChange]) -> None:
        """Changes the agent reports: each replaces any change of its app still waiting, and
        waits behind the others (an app that flaps does not starve the rest)."""
        for change in changes:
            self._waiting.pop(change.slug, None)
            self._waiting[change.slug] = change

    def ready(self, now: float) -> list[HealthChange]:
        """The waiting changes the budget lets through at ``now``, oldest first; they no longer
        wait."""
        self._refill(now)
        count = min(len(self._waiting), int(self._budget + _SLACK))
        self._budget -= count
        return [self._waiting.pop(slug) for slug in list(self._waiting)[:count]]

    def wait(self, now: float) -> float | None:
        """Seconds from ``now`` until the next waiting change may go; None when none waits."""
        if not self._waiting:
            return None
        self._refill(now)
        return max(0.0, (1 - _SLACK - self._budget) / self._per_second)

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._at)
        self._budget = min(self._burst, self._budget + elapsed * self._per_second)
        self._at = max(self._at, now)
