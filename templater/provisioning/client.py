"""The CLI's client of the control plane API (httpx), and the credentials it signs in with."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, TypeVar

import httpx

from templater.model.records import (
    AgentRecord,
    ApplyResult,
    AppRecord,
    DesiredState,
    PortShare,
    TokenRecord,
    User,
    UserRecord,
    WorkspaceState,
)
from templater.provisioning.credentials import Credentials

_T = TypeVar("_T")


class ClientError(Exception):
    """A request the control plane refused or could not be made, said for a person; ``status``
    is the HTTP status of a refusal by a templater server."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class NotAControlPlane(ClientError):
    """The URL does not lead to a templater server: nothing answers there, or something else
    does. The message names the URL."""


@dataclass(frozen=True, slots=True)
class _CreatedUser:
    role: str
    token: str


@dataclass(frozen=True, slots=True)
class _AgentToken:
    token: str


@dataclass(frozen=True, slots=True)
class _CreatedToken:
    id: int
    name: str
    created_at: datetime
    expires_at: datetime | None
    token: str


def _media_type(response: httpx.Response) -> str:
    content_type: str = response.headers.get("content-type", "")
    return content_type.partition(";")[0].strip().lower()


class Client:
    def __init__(self, credentials: Credentials, timeout: float = 60.0) -> None:
        self.url = credentials.url
        try:
            self._http = httpx.Client(
                base_url=credentials.url,
                headers={"Authorization": f"Bearer {credentials.token}"},
                timeout=timeout,
            )
        except httpx.InvalidURL as problem:
            raise NotAControlPlane(f"{self.url} is not a URL: {problem}") from None

    def close(self) -> None:
        self._http.close()

    def _unreachable(self, problem: Exception) -> NotAControlPlane:
        detail = str(problem).strip().splitlines()
        reason = detail[0] if detail else type(problem).__name__
        return NotAControlPlane(f"cannot reach the control plane at {self.url}: {reason}")

    def _answer(self, response: httpx.Response) -> Any:
        """The JSON a templater server answered with; its refusal (an error status with a JSON
        ``{"message"}``) as a ClientError; anything else as NotAControlPlane, never its body."""
        if _media_type(response) == "application/json":
            try:
                data = response.json()
            except ValueError:
                pass
            else:
                if response.status_code < 400:
                    return data
                if isinstance(data, dict) and isinstance(data.get("message"), str):
                    raise ClientError(data["message"], response.status_code)
        raise self._stranger(response)

    def _stranger(self, response: httpx.Response) -> NotAControlPlane:
        """What answered is not templater: said with its status and content type."""
        redirect = response.headers.get("location") if response.is_redirect else None
        return NotAControlPlane(
            f"{self.url} does not answer as a templater server "
            f"(HTTP {response.status_code}, {_media_type(response) or 'no content type'})"
            + (f"; it redirects to {redirect}" if redirect else "")
        )

    def _request(self, method: str, path: str, **arguments: Any) -> Any:
        try:
            response = self._http.request(method, path, **arguments)
        except (httpx.HTTPError, httpx.InvalidURL) as problem:
            raise self._unreachable(problem) from None
        return self._answer(response)

    def _decoded(self, kind: type[_T], method: str, path: str, **arguments: Any) -> _T:
        """The answer as ``kind``; JSON of another shape means something else answered."""
        from pydantic import TypeAdapter, ValidationError

        data = self._request(method, path, **arguments)
        try:
            return TypeAdapter(kind).validate_python(data)
        except ValidationError as problem:
            first = problem.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "the answer"
            raise NotAControlPlane(
                f"{self.url} does not answer as a templater server "
                f"(unexpected JSON from {path}: {where}: {first['msg']})"
            ) from None

    def me(self) -> User:
        return self._decoded(User, "GET", "/api/v1/users/me")

    def create_user(self, name: str, admin: bool) -> tuple[str, str]:
        created = self._decoded(
            _CreatedUser, "POST", "/api/v1/users", json={"name": name, "admin": admin}
        )
        return created.role, created.token

    def users(self) -> list[UserRecord]:
        return self._decoded(list[UserRecord], "GET", "/api/v1/users")

    def set_user_status(self, name: str, status: str) -> UserRecord:
        """Make the user ``active`` or ``suspended``."""
        path = f"/api/v1/users/{name}/status"
        return self._decoded(UserRecord, "PUT", path, json={"status": status})

    def tokens(self, user: str) -> list[TokenRecord]:
        """The user's API tokens (``me``: yours)."""
        return self._decoded(list[TokenRecord], "GET", f"/api/v1/users/{user}/tokens")

    def create_token(
        self, user: str, name: str, lifetime_seconds: int | None
    ) -> tuple[TokenRecord, str]:
        """A new API token for the user: its record and its secret."""
        request = {"name": name, "lifetime_seconds": lifetime_seconds}
        path = f"/api/v1/users/{user}/tokens"
        created = self._decoded(_CreatedToken, "POST", path, json=request)
        record = TokenRecord(created.id, created.name, created.created_at, created.expires_at, None)
        return record, created.token

    def revoke_token(self, user: str, token_id: int) -> None:
        self._request("DELETE", f"/api/v1/users/{user}/tokens/{token_id}")

    def workspace(self, owner: str, name: str) -> WorkspaceState | None:
        try:
            return self._decoded(WorkspaceState, "GET", f"/api/v1/workspaces/{owner}/{name}")
        except ClientError as problem:
            if problem.status == 404:
                return None
            raise

    def apply(
        self, owner: str, name: str, expected_version: int, desired: DesiredState
    ) -> ApplyResult:
        body = {"expected_version": expected_version, **asdict(desired)}
        return self._decoded(ApplyResult, "PUT", f"/api/v1/workspaces/{owner}/{name}", json=body)

    def destroy(self, owner: str, name: str, expected_version: int) -> None:
        self._request(
            "DELETE",
            f"/api/v1/workspaces/{owner}/{name}",
            params={"expected_version": expected_version},
        )

    def events(self) -> Iterator[dict[str, Any] | None]:
        """The server-sent events of ``/api/v1/events`` as they come, each as its JSON data;
        first ``None``, once the server has subscribed this client, so that a caller can read
        the state it follows then and miss no change after it."""
        try:
            with self._http.stream("GET", "/api/v1/events", timeout=None) as response:
                if response.status_code >= 400:
                    response.read()
                    self._answer(response)
                if _media_type(response) != "text/event-stream":
                    raise self._stranger(response)
                data: list[str] = []
                for line in response.iter_lines():
                    if line.startswith("data:"):
                        data.append(line[5:].strip())
                    elif line == ": connected":
                        yield None
                    elif not line and data:
                        yield json.loads("\n".join(data))
                        data = []
        except httpx.HTTPError as problem:
            raise ClientError(f"lost the event stream from {self.url}: {problem}") from None

    def watch_apps(self, owner: str | None, workspace: str | None) -> Iterator[list[AppRecord]]:
        """The apps now, and again after every change the server streams, until the stream
        ends."""
        for _ in self.events():
            yield self.apps(owner, workspace)

    def apps(self, owner: str | None, workspace: str | None) -> list[AppRecord]:
        params = {
            key: value for key, value in (("owner", owner), ("workspace", workspace)) if value
        }
        return self._decoded(list[AppRecord], "GET", "/api/v1/apps", params=params)

    def agents(self, owner: str | None, workspace: str | None) -> list[AgentRecord]:
        """The agents of the workspaces one may see (of ``owner``'s, of those named
        ``workspace``), with their states."""
        params = {
            key: value for key, value in (("owner", owner), ("workspace", workspace)) if value
        }
        return self._decoded(list[AgentRecord], "GET", "/api/v1/agents", params=params)

    def issue_agent_token(self, owner: str, workspace: str, agent: str) -> str:
        """A new token for the agent; its previous one ends."""
        path = f"/api/v1/workspaces/{owner}/{workspace}/agents/{agent}/token"
        return self._decoded(_AgentToken, "POST", path).token

    def ports(self, owner: str, workspace: str) -> list[PortShare]:
        return self._decoded(
            list[PortShare], "GET", f"/api/v1/workspaces/{owner}/{workspace}/ports"
        )

    def share_port(
        self, owner: str, workspace: str, agent: str, port: int, share: str
    ) -> PortShare:
        path = f"/api/v1/workspaces/{owner}/{workspace}/ports/{agent}/{port}"
        return self._decoded(PortShare, "PUT", path, json={"share": share})

    def unshare_port(self, owner: str, workspace: str, agent: str, port: int) -> None:
        self._request("DELETE", f"/api/v1/workspaces/{owner}/{workspace}/ports/{agent}/{port}")
