"""The route to a workspace agent's SSH server (SPEC §12): ``SSH_PATH`` + ``OWNER/WORKSPACE
[/AGENT]``, upgraded to ``SSH_PROTOCOL``, for the workspace's owner and admins. Its answers are
the API's (JSON messages), since a program (``templater ssh --stdio``) reads them; once it is
let through, the proxy splices the connection to a stream from the agent."""

from __future__ import annotations

from urllib.parse import unquote

from templater.model.agent_messages import SSH_PORT
from templater.model.records import AGENT_CONNECTED, AgentRoute, User
from templater.model.ssh import SSH_PATH, SSH_PROTOCOL
from templater.server.credentials import BAD_TOKEN, NO_TOKEN, SESSION_HEADER, presented_token
from templater.server.router.directory import Directory
from templater.server.router.exchange import Reply, Request, Splice
from templater.server.router.pages import message

PATH = SSH_PATH.encode()
_SELF = "me"
_SESSION_HEADER = SESSION_HEADER.lower().encode()


async def ssh_route(directory: Directory, request: Request, path: bytes) -> Reply | Splice:
    names = [unquote(part.decode("latin-1")) for part in path[len(PATH) :].split(b"/")]
    if len(names) not in (2, 3) or not all(names):
        return message(404, f"an SSH path is {SSH_PATH}OWNER/WORKSPACE[/AGENT]")
    if (request.header(b"upgrade") or b"").strip().lower() != SSH_PROTOCOL.encode():
        return message(400, f"SSH here needs an upgrade to {SSH_PROTOCOL}: use `templater ssh`")
    user = await _user(directory, request)
    if not isinstance(user, User):
        return user
    owner, workspace = names[0], names[1]
    owner = user.name if owner == _SELF else owner
    if owner != user.name and not user.is_admin:
        return message(403, f"{user.name} can only open SSH to their own workspaces")
    found = _agent(await directory.agents(owner, workspace), names[2] if len(names) == 3 else None)
    if not isinstance(found, AgentRoute):
        return found
    name = f"{owner}/{workspace}.{found.agent}"
    if found.agent_state != AGENT_CONNECTED:
        since = found.agent_since.strftime("%Y-%m-%d %H:%M:%S UTC")
        return message(
            502,
            f"the workspace agent {name} is not connected (it is {found.agent_state} since "
            f"{since}): start `templater agent` in the workspace",
        )
    return Splice(found.agent_id, SSH_PORT, "tcp", SSH_PROTOCOL)


async def _user(directory: Directory, request: Request) -> User | Reply:
    authorization, header = request.header(b"authorization"), request.header(_SESSION_HEADER)
    token = presented_token(
        authorization.decode("latin-1") if authorization is not None else None,
        header.decode("latin-1") if header is not None else None,
    )
    if token is None:
        return message(401, NO_TOKEN, (b"WWW-Authenticate", b"Bearer"))
    user = await directory.user_by_token(token)
    if user is None:
        return message(401, BAD_TOKEN, (b"WWW-Authenticate", b"Bearer"))
    request.user = user.name
    return user


def _agent(agents: tuple[AgentRoute, ...], name: str | None) -> AgentRoute | Reply:
    """The agent ``name`` among a workspace's ``agents`` (None: the only one), or why not."""
    if not agents:
        return message(404, "there is no such workspace, or it has no agents")
    if name is None:
        if len(agents) == 1:
            return agents[0]
        names = ", ".join(agent.agent for agent in agents)
        return message(400, f"the workspace has several agents ({names}): name one")
    for agent in agents:
        if agent.agent == name:
            return agent
    return message(404, f"the workspace has no agent {name!r}")
