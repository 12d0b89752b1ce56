"""The health monitor's core (SPEC §8): the scheduler, the checks and the state machine, in pure
asyncio, so that the server runs it today and the workspace agent can run it unchanged."""

from templater.health.monitor import HealthMonitor, HealthStats, Target, Transition

__all__ = ["HealthMonitor", "HealthStats", "Target", "Transition"]
