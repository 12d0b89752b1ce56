"""The health monitor's core (SPEC §8): the scheduler, the checks and the state machine, in pure
asyncio: the workspace agent runs it (SPEC §11)."""

from templater.health.monitor import HealthMonitor
from templater.health.targets import (
    HEALTHY,
    INITIALIZING,
    MAX_TIMEOUT,
    UNHEALTHY,
    HealthStats,
    Target,
    Transition,
)
from templater.health.wire import parse_response_head

__all__ = [
    "HEALTHY",
    "INITIALIZING",
    "MAX_TIMEOUT",
    "UNHEALTHY",
    "HealthMonitor",
    "HealthStats",
    "Target",
    "Transition",
    "parse_response_head",
]
