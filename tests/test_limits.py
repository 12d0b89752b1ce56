"""The limits on one member's load (SPEC §15), on their own: which one an apply breaks, how an
agent's open streams are counted, and that their defaults leave every real template room."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from templater.engine.evaluate import evaluate_template
from templater.model.limits import (
    DEFAULT_LIMITS,
    MemberLimits,
    apply_breach,
    check_rates,
    new_workspace_breach,
    streams_breach,
)
from templater.model.records import AgentSpec, DesiredState, Healthcheck
from templater.provisioning.plan import PlanError, desired_state
from templater.server.open_streams import OpenStreams

from .conftest import EXAMPLES, corpus_modules, needs_corpus
from .test_store import app


def state(*intervals: int | None, agent: str = "main", apps: int | None = None) -> DesiredState:
    """A workspace whose apps have checks every ``intervals`` seconds (None: no check), or
    ``apps`` apps without checks."""
    specs = [
        app(
            f"app-{number}",
            agent,
            healthcheck=None if every is None else Healthcheck("http://localhost/", every, 3),
        )
        for number, every in enumerate(intervals if apps is None else [None] * apps)
    ]
    return DesiredState({}, {}, (AgentSpec(agent),), tuple(specs))


def test_the_defaults() -> None:
    assert MemberLimits(100, 25, 20, 300) == DEFAULT_LIMITS


def test_streams_per_agent_names_the_agent_the_limit_and_the_flag() -> None:
    breach = streams_breach(MemberLimits(streams_per_agent=7), "alice/dev.main")
    assert breach.limit == "streams_per_agent"
    assert breach.message.startswith("agent alice/dev.main has 7 SSH connections")
    assert "at most 7 at once (the server's --max-streams-per-agent)" in breach.message


def test_apps_per_workspace() -> None:
    assert apply_breach(DEFAULT_LIMITS, "alice/dev", state(apps=100)) is None
    breach = apply_breach(DEFAULT_LIMITS, "alice/dev", state(apps=101))
    assert breach is not None and breach.limit == "apps_per_workspace"
    assert breach.message == (
        "workspace alice/dev would have 101 apps; a workspace may have at most 100 (the "
        "server's --max-apps-per-workspace)"
    )
    assert apply_breach(MemberLimits(apps_per_workspace=3), "a/b", state(apps=4)) is not None


def test_check_rates_are_summed_exactly_per_agent() -> None:
    thirds = state(3, 3, 3, None)
    assert check_rates(thirds) == {"main": Fraction(1)}
    two = DesiredState(
        {},
        {},
        (AgentSpec("a"), AgentSpec("b")),
        (*state(1, 2).apps, *state(4, agent="b").apps),
    )
    assert check_rates(two) == {"main": Fraction(3, 2), "b": Fraction(1, 4)}


def test_checks_per_second_per_agent() -> None:
    assert apply_breach(DEFAULT_LIMITS, "alice/dev", state(*[1] * 20)) is None
    breach = apply_breach(DEFAULT_LIMITS, "alice/dev", state(*[1] * 25))
    assert breach is not None and breach.limit == "checks_per_second_per_agent"
    assert "agent main of workspace alice/dev would run 25 health checks a second" in (
        breach.message
    )
    assert "at most 20 (the server's --max-checks-per-second)" in breach.message
    # Exactly at the limit is within it; a third of a check more is not (no rounding).
    one = MemberLimits(checks_per_second_per_agent=1)
    assert apply_breach(one, "a/b", state(3, 3, 3)) is None
    over = apply_breach(one, "a/b", state(3, 3, 3, 3))
    assert over is not None and "would run 1.333 health checks" in over.message
    assert apply_breach(one, "a/b", state(2, 4, 4, None, None)) is None


def test_the_apps_count_is_told_before_the_checks() -> None:
    breach = apply_breach(MemberLimits(apps_per_workspace=2), "a/b", state(1, 1, 1))
    assert breach is not None and breach.limit == "apps_per_workspace"


def test_open_streams_are_counted_per_agent_and_given_back() -> None:
    streams = OpenStreams(2)
    assert streams.take(1, "0.a") and streams.take(1, "1.b")
    assert not streams.take(1, "0.c")  # agent 1 is full...
    assert streams.take(2, "0.d")  # ... and agent 2 is not held back by it
    streams.give_back("0.c")  # never counted: nothing changes
    assert not streams.take(1, "0.e")
    streams.give_back("0.a")
    streams.give_back("0.a")  # both ends of a stream may say so
    assert streams.take(1, "0.f")
    assert not streams.take(1, "0.g")
    streams.give_back_process("1")  # process 1's link ended: "1.b" is given back, not "0.f"
    assert streams.take(1, "0.h")
    assert not streams.take(1, "0.i")


def test_workspaces_per_user() -> None:
    assert new_workspace_breach(DEFAULT_LIMITS, "alice", 24) is None
    breach = new_workspace_breach(DEFAULT_LIMITS, "alice", 25)
    assert breach is not None and breach.limit == "workspaces_per_user"
    assert breach.message.startswith("alice already has 25 workspaces; a user may have at most 25")
    assert "--max-workspaces-per-user" in breach.message
    assert new_workspace_breach(MemberLimits(workspaces_per_user=1), "bob", 1) is not None


def _load(directory: Path) -> tuple[int, int, DesiredState | None]:
    """A template's apps and apps with a healthcheck, and its desired state when it can be
    planned as it is (a module alone cannot: its agent is an input)."""
    evaluation = evaluate_template(directory)
    apps = [
        resource
        for resource in evaluation.resources
        if resource.mode == "managed" and resource.type == "coder_app"
    ]
    checked = sum(1 for resource in apps if resource.body.blocks_of("healthcheck"))
    try:
        return len(apps), checked, desired_state(evaluation, {}, {})
    except PlanError:
        return len(apps), checked, None


def _within_the_defaults(directory: Path) -> None:
    apps, checked, desired = _load(directory)
    assert apps <= DEFAULT_LIMITS.apps_per_workspace, directory
    # Every interval is at least 1 s: the apps with a check bound the agent's rate from above.
    assert checked <= DEFAULT_LIMITS.checks_per_second_per_agent, directory
    if desired is not None:
        assert apply_breach(DEFAULT_LIMITS, "alice/dev", desired) is None, directory


@pytest.mark.parametrize(
    "example",
    [path for path in sorted(EXAMPLES.glob("*/")) if path.name != "broken"],
    ids=lambda path: path.name,
)
def test_the_defaults_leave_every_example_room(example: Path) -> None:
    _within_the_defaults(example)


@needs_corpus
def test_the_defaults_leave_every_corpus_template_and_module_room() -> None:
    for directory in corpus_modules():
        _within_the_defaults(directory)
