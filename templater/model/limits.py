"""How much one member may load the control plane (SPEC §15): apps per workspace, workspaces per
user, health checks per second per agent and open streams per agent, and which of them an apply
(or a new stream) would break.

The limits are the workspace owner's whoever applies, an admin included: they stand for the load
that owner's workspaces put on everyone else's control plane, and the operator who wants more
for someone raises them with the server's flags. Only what an apply asks for is measured: a
workspace over a limit lowered since it was applied keeps working, and an apply that brings it
within the limit is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from templater.model.records import DesiredState

DEFAULT_APPS_PER_WORKSPACE = 100
DEFAULT_WORKSPACES_PER_USER = 25
DEFAULT_CHECKS_PER_SECOND = 20
DEFAULT_STREAMS_PER_AGENT = 300


@dataclass(frozen=True, slots=True)
class MemberLimits:
    """The bounds on one member's load; each one's server flag is in its breach's message."""

    apps_per_workspace: int = DEFAULT_APPS_PER_WORKSPACE
    """``--max-apps-per-workspace``."""
    workspaces_per_user: int = DEFAULT_WORKSPACES_PER_USER
    """``--max-workspaces-per-user``."""
    checks_per_second_per_agent: int = DEFAULT_CHECKS_PER_SECOND
    """``--max-checks-per-second``: the sum over an agent's apps of 1 / their check's interval."""
    streams_per_agent: int = DEFAULT_STREAMS_PER_AGENT
    """``--max-streams-per-agent``: SSH connections and port-forward streams open at once."""


DEFAULT_LIMITS = MemberLimits()

HIGHEST_LIMIT = 10_000
"""The most any limit may be set to: an agent takes the checks of at most 10,000 apps, in one
message (``agent_messages``), and a limit no one could reach bounds nothing."""


@dataclass(frozen=True, slots=True)
class Breach:
    """A limit an apply would break: the ``MemberLimits`` field, and what to tell the person."""

    limit: str
    message: str


def check_rates(desired: DesiredState) -> dict[str, Fraction]:
    """Health checks per second by agent (only agents with checks), exactly: 1 / interval summed
    over the agent's apps. Intervals are at least 1, as the store requires before asking."""
    rates: dict[str, Fraction] = {}
    for app in desired.apps:
        if app.healthcheck is not None:
            rate = Fraction(1, app.healthcheck.interval)
            rates[app.agent] = rates.get(app.agent, Fraction(0)) + rate
    return rates


def apply_breach(limits: MemberLimits, address: str, desired: DesiredState) -> Breach | None:
    """The first limit that ``desired``, applied to workspace ``address`` (owner/name), breaks;
    None when it breaks none."""
    count = len(desired.apps)
    if count > limits.apps_per_workspace:
        return Breach(
            "apps_per_workspace",
            f"workspace {address} would have {count} apps; a workspace may have at most "
            f"{limits.apps_per_workspace} (the server's --max-apps-per-workspace)",
        )
    for agent, rate in sorted(check_rates(desired).items()):
        if rate > limits.checks_per_second_per_agent:
            return Breach(
                "checks_per_second_per_agent",
                f"agent {agent} of workspace {address} would run {_rate(rate)} health checks a "
                "second (1 / interval for each of its apps' healthchecks); an agent may run at "
                f"most {limits.checks_per_second_per_agent} (the server's "
                "--max-checks-per-second): give the checks longer intervals or spread the apps "
                "over more agents",
            )
    return None


def new_workspace_breach(limits: MemberLimits, owner: str, owned: int) -> Breach | None:
    """Whether ``owner``, who has ``owned`` workspaces, may not have one more."""
    if owned < limits.workspaces_per_user:
        return None
    return Breach(
        "workspaces_per_user",
        f"{owner} already has {owned} workspaces; a user may have at most "
        f"{limits.workspaces_per_user} (the server's --max-workspaces-per-user): destroy one "
        "first",
    )


def streams_breach(limits: MemberLimits, agent: str) -> Breach:
    """Why agent ``agent`` (owner/workspace.agent), whose streams are all in use, gets no
    other one now."""
    most = limits.streams_per_agent
    return Breach(
        "streams_per_agent",
        f"agent {agent} has {most} SSH connections and forwarded streams open; an agent may "
        f"have at most {most} at once (the server's --max-streams-per-agent): close one first",
    )


def _rate(rate: Fraction) -> str:
    """``25``, ``20.5``, ``20.333``: a whole number as one, else to the thousandth."""
    return f"{float(rate):.3f}".rstrip("0").rstrip(".")
