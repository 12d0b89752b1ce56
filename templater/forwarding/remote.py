"""The workspace agent's ports, as ``templater port-forward`` reaches them: each stream is one
connection to the control plane, upgraded (SPEC §9). While the agent or the control plane is
away (restarting), a new stream is asked for again until it is back, for up to WAIT_FOR_AGENT."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from templater.model.forward_route import AGENT_OFFLINE, FORWARD_PROTOCOL, forward_target
from templater.relay.upgrade import ControlPlane, UpgradeFailed, upgrade

WAIT_FOR_AGENT = 10.0
"""How long a new connection waits for an agent (or a control plane) that is not there."""
_RETRY_EVERY = 0.25


class StreamRefused(Exception):
    """No stream for this connection: the workspace refused the port, the control plane refused
    the request, or the agent stayed away; the message says which."""


class Streams(Protocol):
    """Where a forward's streams come from: AgentPorts (a stand-in, in tests)."""

    @property
    def name(self) -> str: ...

    async def open(self, protocol: str, port: int) -> tuple[asyncio.Transport, bytes]: ...


@dataclass(frozen=True, slots=True)
class AgentPorts:
    """The ports of agent ``agent`` of ``owner``'s workspace ``workspace``, reached through the
    control plane at ``plane`` with API token ``token``."""

    plane: ControlPlane
    token: str
    owner: str
    workspace: str
    agent: str

    @property
    def name(self) -> str:
        """How the user names the agent: ``workspace.agent``."""
        return f"{self.workspace}.{self.agent}"

    async def open(self, protocol: str, port: int) -> tuple[asyncio.Transport, bytes]:
        """A stream to ``port`` (``protocol``) in the workspace, reading paused, and the bytes
        the port sent already. Raises StreamRefused."""
        away = ["the control plane did not answer"]
        try:
            return await asyncio.wait_for(self._once_there(protocol, port, away), WAIT_FOR_AGENT)
        except TimeoutError:
            raise StreamRefused(
                f"{away[0]} (waited {WAIT_FOR_AGENT:g} s for it to come back)"
            ) from None

    async def _once_there(
        self, protocol: str, port: int, away: list[str]
    ) -> tuple[asyncio.Transport, bytes]:
        """The stream, asked for again while the agent or the control plane is away (``away``
        holds why, the latest time)."""
        target = forward_target(self.owner, self.workspace, self.agent, protocol, port)
        headers = {"Authorization": f"Bearer {self.token}"}
        while True:
            try:
                return await upgrade(self.plane, target, FORWARD_PROTOCOL, headers)
            except UpgradeFailed as problem:
                if problem.status not in (None, AGENT_OFFLINE):
                    raise StreamRefused(str(problem)) from None
                away[0] = str(problem)
            await asyncio.sleep(_RETRY_EVERY)
