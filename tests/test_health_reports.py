"""How fast one agent's reports of health are stored (SPEC §15), on a clock the test turns."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from templater.model.agent_messages import HealthChange
from templater.server.health_reports import HealthReports

AT = datetime(2025, 6, 2, 9, 14, tzinfo=UTC)


def change(slug: str, state: str = "healthy") -> HealthChange:
    return HealthChange(slug, state, "status 200", AT)


def test_a_burst_within_the_budget_goes_at_once() -> None:
    reports = HealthReports(per_second=2, burst=5, now=0.0)
    reports.add(change(f"app-{n}") for n in range(5))
    assert [c.slug for c in reports.ready(0.0)] == [f"app-{n}" for n in range(5)]
    assert reports.wait(0.0) is None
    assert reports.ready(0.0) == []


def test_what_is_over_the_budget_waits_coalesced_and_goes_at_the_rate() -> None:
    reports = HealthReports(per_second=2, burst=2, now=0.0)
    reports.add([change("a"), change("b"), change("c")])
    assert [c.slug for c in reports.ready(0.0)] == ["a", "b"]
    assert reports.wait(0.0) == pytest.approx(0.5)
    # A flood of one app's changes keeps only its latest, behind the app already waiting.
    for number in range(1000):
        reports.add([change("a", "unhealthy" if number % 2 else "healthy")])
    assert reports.ready(0.25) == []
    assert reports.wait(0.25) == pytest.approx(0.25)
    assert reports.ready(0.5) == [change("c")]
    assert reports.ready(1.0) == [change("a", "unhealthy")]
    assert reports.wait(1.0) is None


def test_the_budget_refills_to_the_burst_and_no_more() -> None:
    reports = HealthReports(per_second=10, burst=3, now=0.0)
    reports.add(change(f"app-{n}") for n in range(10))
    assert len(reports.ready(0.0)) == 3
    assert len(reports.ready(100.0)) == 3  # idle a long while: still only the burst
    assert len(reports.ready(100.2)) == 2
    assert len(reports.ready(99.0)) == 0  # a clock that went back gives nothing
