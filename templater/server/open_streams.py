"""The streams each agent has open for SSH and port-forward, counted by the hub for the whole
server (SPEC §15: one member's connections cannot take every socket and every cycle of the
control plane). A stream is taken when it is asked for and given back when its connection ends
or it never opens; the server's processes tell the hub, and a process whose link to the hub ends
gives back all of its own (it is gone, or reconnecting after the hub restarted)."""

from __future__ import annotations


class OpenStreams:
    def __init__(self, limit: int) -> None:
        """At most ``limit`` streams an agent."""
        self._limit = limit
        self._by_agent: dict[int, set[str]] = {}
        self._agent_of: dict[str, int] = {}

    def take(self, agent: int, stream_id: str) -> bool:
        """Count ``stream_id`` against ``agent``; False, counting nothing, when it has no room."""
        held = self._by_agent.setdefault(agent, set())
        if len(held) >= self._limit:
            return False
        held.add(stream_id)
        self._agent_of[stream_id] = agent
        return True

    def give_back(self, stream_id: str) -> None:
        """``stream_id`` ended (or never opened); one not counted is ignored, so that each end
        of a stream may say so."""
        agent = self._agent_of.pop(stream_id, None)
        if agent is None:
            return
        held = self._by_agent[agent]
        held.discard(stream_id)
        if not held:
            del self._by_agent[agent]

    def give_back_process(self, process: str) -> None:
        """Every stream of server process ``process`` (a stream id starts with its number)."""
        prefix = f"{process}."
        for stream_id in [each for each in self._agent_of if each.startswith(prefix)]:
            self.give_back(stream_id)
