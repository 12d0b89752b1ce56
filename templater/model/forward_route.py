"""How ``templater port-forward`` asks the control plane for a stream to a workspace port (SPEC
§9): an HTTP/1.1 upgrade of ``GET /api/v1/workspaces/OWNER/WORKSPACE/agents/AGENT/forward/
PROTOCOL/PORT`` to ``FORWARD_PROTOCOL``, with the user's API token. The control plane answers
``101`` and then carries raw bytes to and from the port (TCP), or datagrams framed by
``templater.relay.datagrams`` (UDP); or it refuses with the API's JSON error: 401 (no valid
token), 403 (not the owner or an admin), 404 (no such agent), 429 (the agent has as many streams
open as the server allows), 502 (the workspace refused the port) or 503 (the agent is not
connected: worth asking again)."""

from __future__ import annotations

import re
from urllib.parse import quote

FORWARD_PROTOCOL = "templater-forward"
"""The ``Upgrade`` token of a forwarded connection."""
AGENT_OFFLINE = 503
"""The status of a refusal because the agent is not connected (now)."""
TOO_MANY_STREAMS = 429
"""The status of a refusal because the agent's SSH connections and forwarded streams are as many
as ``--max-streams-per-agent`` allows (SSH's upgrade answers the same)."""

FORWARD_PATH = re.compile(
    r"/api/v1/workspaces/(?P<owner>[^/]+)/(?P<workspace>[^/]+)/agents/(?P<agent>[^/]+)"
    r"/forward/(?P<protocol>tcp|udp)/(?P<port>[0-9]{1,5})"
)
"""What a forwarded connection's request target is (its names percent-encoded)."""


def forward_target(owner: str, workspace: str, agent: str, protocol: str, port: int) -> str:
    """The request target that asks for a stream to ``port`` (``protocol``) of the agent."""
    names = (quote(name, safe="") for name in (owner, workspace, agent))
    return "/api/v1/workspaces/{}/{}/agents/{}/forward/{}/{}".format(*names, protocol, port)
