"""What the health monitor is given and what it reports: targets (apps with a healthcheck), their
states and transitions, the monitor's counters, and how long a check may take (SPEC §8)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

INITIALIZING = "initializing"
HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
STATES = (INITIALIZING, HEALTHY, UNHEALTHY)

MAX_TIMEOUT = 10.0
"""The longest a check may take (SPEC §8): the timeout is min(interval, this)."""


@dataclass(frozen=True, slots=True)
class Target:
    """An app with a healthcheck, as the caller knows it."""

    key: int
    """The app's id."""
    url: str
    """The healthcheck URL as written in the template, e.g. ``http://localhost:13337/healthz``."""
    address: str
    """Where the check connects (host name or IP), to the URL's port: in the workspace agent,
    the URL's own host."""
    interval: int
    """Seconds between checks. A target with an interval below 1 is never checked (it stays as
    it is, as Coder's stays ``initializing``)."""
    threshold: int
    """Consecutive failures that make the app unhealthy."""
    state: str
    """The last known state: ``initializing``, ``healthy`` or ``unhealthy``. Taken when the
    target joins, and when its healthcheck (url, interval or threshold) changes, as the store
    then resets it; otherwise the monitor's own state wins, since the caller may not yet have
    stored the transitions it was handed."""


@dataclass(frozen=True, slots=True)
class Transition:
    """A change of an app's health."""

    key: int
    state: str
    reason: str
    """Why, e.g. ``status 200``, ``status 503``, ``timeout after 5.0 s``, ``connection refused``:
    the outcome of the check that caused it."""
    at: datetime
    """When that check concluded (UTC)."""
    previous: str
    """The state it left."""


@dataclass(frozen=True, slots=True)
class HealthStats:
    """Counters since start (or since ``reset_stats()``), for benchmarks and diagnostics."""

    targets: int
    """Targets known now."""
    in_flight: int
    """Checks in flight now."""
    checks_started: int
    """Checks begun: one per due time, less those missed."""
    requests_sent: int
    """Checks whose request was written (the others failed to resolve, connect or TLS)."""
    successes: int
    failures: int
    timeouts: int
    """Failures by timeout (included in ``failures``)."""
    missed: int
    """Due times that passed without a check: the loop fell a whole interval behind, or a
    check could not be made for want of local resources."""
    transitions: int
    """Transitions handed to ``report`` (in calls that returned)."""
    report_errors: int
    """``report`` calls that raised (their transitions were dropped)."""
    dispatch_lags: tuple[float, ...]
    """Seconds from each check's due time to its start (the most recent 200,000)."""
    send_lags: tuple[float, ...]
    """Seconds from each check's due time to its request being written, after connect: the
    due→sent lag (the most recent 200,000)."""


def timeout_reason(target: Target) -> str:
    return f"timeout after {timeout(target):.1f} s"


def timeout(target: Target) -> float:
    return min(float(target.interval), MAX_TIMEOUT)
