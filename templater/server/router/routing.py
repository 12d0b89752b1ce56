"""The app router's decisions (SPEC §5 to §7): which requests are app requests, which app or port
they name, who is asking, whether they may, and what the app's upstream request looks like.

Each request gets a ``Reply`` (a page, a redirect, a preflight answer) or a ``Forward``; the proxy
carries it out. Requests that are not for an app go to the API.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Awaitable
from dataclasses import dataclass
from functools import lru_cache, partial
from urllib.parse import parse_qsl, quote, unquote_to_bytes, urlencode, urlsplit

from templater.model.agent_messages import STREAM_PATH, STREAM_PROTOCOL
from templater.model.forward_route import FORWARD_PATH, FORWARD_PROTOCOL
from templater.model.hostnames import (
    AppLabel,
    HostnameError,
    WildcardPattern,
    parse_app_path,
    parse_label,
)
from templater.model.records import AGENT_CONNECTED, AGENT_CONNECTING, AppRoute, PortRoute, User
from templater.server.credentials import BAD_TOKEN, NO_TOKEN, presented_token
from templater.server.credentials import SESSION_HEADER as CREDENTIAL_HEADER
from templater.server.router import cors, ssh
from templater.server.router.directory import Directory
from templater.server.router.exchange import (
    DEFAULT_MAX_BODY,
    Adopt,
    Forward,
    Headers,
    Reply,
    Request,
    Rewrite,
    Splice,
    Upstream,
    hop_by_hop,
)
from templater.server.router.pages import message, page, redirect
from templater.server.router.sessions import (
    ACCESS_COOKIE,
    APP_COOKIE,
    TICKET_PARAMETER,
    SessionSigner,
    cookie_value,
    set_cookie,
    without_cookies,
)
from templater.server.store import AGENT_TOKEN_PREFIX, TOKEN_PREFIX

SESSION_HEADER = CREDENTIAL_HEADER.lower().encode()
_TICKET = TICKET_PARAMETER.encode()
AUTH_REDIRECT_PATH = "/api/v1/applications/auth-redirect"
SIGN_IN_PATH = "/login"
SIGN_OUT_PATH = "/logout"
SHARE_PORT_PATH = "/ports/share"
"""The dashboard's form that shares a port: posted with the browser's session, not a token."""
_FORM_PATHS = frozenset({SIGN_IN_PATH.encode(), SIGN_OUT_PATH.encode()})
_SESSION_FORM_PATHS = frozenset({SHARE_PORT_PATH.encode()})
FORM_LIMIT = 16 * 1024
"""The largest form of the access URL's pages read: a sign-in (a username, a token and a CSRF
token), or a port's share."""

_TEMPLATER_COOKIES = frozenset({ACCESS_COOKIE.encode(), APP_COOKIE.encode()})
_SESSION_CARRIERS = frozenset({b"cookie", SESSION_HEADER, b"authorization"})
_TEMPLATER_BEARERS = tuple(
    f"bearer {prefix}".encode() for prefix in (TOKEN_PREFIX, AGENT_TOKEN_PREFIX)
)
# Request headers that templater sets itself or that must never reach an app.
_REPLACED = frozenset(
    {
        b"host",
        b"cookie",
        SESSION_HEADER,
        b"authorization",
        b"x-forwarded-for",
        b"x-forwarded-host",
        b"x-forwarded-proto",
    }
)


_HOSTS_KEPT = 10_000
"""Host headers whose label is remembered (the label is parsed once per host, not per request)."""
_HOST_LIMIT = 254 + len(":65535")
"""The longest Host header that can name a host: a DNS name is at most 253 characters (254 with
its final dot). A longer one is refused before anything is kept or looked up for it."""


class Access(enum.Enum):
    ALLOW = "allow"
    HIDE = "hide"
    """Answer as if the app did not exist (404)."""
    SIGN_IN = "sign-in"


def access(share: str, owner: str, viewer: User | None, admins_reach: bool) -> Access:
    """SPEC §6: who may reach an app or port shared at ``share`` in ``owner``'s workspace.
    ``admins_reach`` is true for subdomain access: admins reach every subdomain app and port."""
    if share == "public":
        return Access.ALLOW
    if viewer is None:
        return Access.SIGN_IN
    if viewer.name == owner or (admins_reach and viewer.is_admin) or share == "authenticated":
        return Access.ALLOW
    return Access.HIDE


@dataclass(frozen=True, slots=True)
class _AppTarget:
    """An app's URL split as the proxy needs it."""

    scheme: str
    host: bytes
    """The Host header the app expects: the URL's own ``host[:port]``."""
    hostname: str
    port: int
    base: bytes
    """The URL's path without its trailing slash."""
    query: str


@lru_cache(maxsize=4096)
def _app_target(url: str) -> _AppTarget:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return _AppTarget(
        parts.scheme,
        parts.netloc.encode("idna"),
        parts.hostname or "localhost",
        port,
        parts.path.rstrip("/").encode("latin-1"),
        parts.query,
    )


def _leaves_base(path: bytes) -> bool:
    """Whether ``path`` climbs above where it starts with ``..`` segments, as an app that decodes
    percent-escapes (``%2e%2e``, ``%2f``) or takes ``\\`` for ``/`` would read it."""
    if b".." not in path and b"%" not in path:
        return False  # no "..", written out or escaped (most requests)
    depth = 0
    for segment in unquote_to_bytes(path).replace(b"\\", b"/").split(b"/"):
        if segment == b"..":
            depth -= 1
            if depth < 0:
                return True
        elif segment not in (b"", b"."):
            depth += 1
    return False


def _decision(
    target: AppRoute | PortRoute | None, viewer: User | None, admins_reach: bool
) -> Access:
    """What ``viewer`` may do with ``target``. A missing one is, to the anonymous, one they must
    sign in for, and to anyone else one they may not see: which users, workspaces, apps and
    agents exist is not for the anonymous to learn (SPEC §15)."""
    if target is None:
        return Access.SIGN_IN if viewer is None else Access.HIDE
    return access(target.share, target.owner, viewer, admins_reach=admins_reach)


@lru_cache(maxsize=4096)
def _agent_upstream(agent: int, host: str, port: int, tls: bool) -> Upstream:
    """``host:port`` in the workspace, through a stream from agent ``agent``: the only way
    the router reaches a workspace (SPEC §11)."""
    return Upstream(host, port, tls, agent=agent)


def _agent_not_connected(route: AppRoute | PortRoute, what: str, home: tuple[str, str]) -> Reply:
    since = route.agent_since.strftime("%Y-%m-%d %H:%M:%S UTC")
    agent = f"{route.owner}/{route.workspace}.{route.agent}"
    if route.agent_state == AGENT_CONNECTING:
        state = f"has not connected since the workspace was applied, at {since}"
    else:
        state = f"has not been connected since {since}"
    return page(
        502,
        "Workspace agent not connected",
        f"templater cannot reach {what}: the workspace's agent {agent} {state}. Start "
        "`templater agent` in the workspace, with its token.",
        home,
    )


@lru_cache(maxsize=_HOSTS_KEPT)
def _describe(label: str) -> str:
    """What a parsed app label names, for pages."""
    parsed = parse_label(label)
    where = f"{parsed.user}/{parsed.workspace}"
    if parsed.slug is not None:
        return f"app {parsed.slug} in {where}"
    return f"port {parsed.port} of agent {parsed.agent} in {where}"


_STRIP_CORS = partial(cors.response_headers, origin=None)


@lru_cache(maxsize=_HOSTS_KEPT)
def _parsed_label(label: str) -> AppLabel | str:
    """The parsed label, or why it is not one."""
    try:
        return parse_label(label)
    except HostnameError as problem:
        return str(problem)


HOP_MARKER = b"Templater-Hop"
"""Carried by every request the router passes to an app (SPEC §11): one that comes back
with it is a loop."""
_HOP_INDEX = HOP_MARKER.lower()

_STREAM_PATH = STREAM_PATH.encode()
_FORWARD_PATH = re.compile(FORWARD_PATH.pattern.encode())
_FORWARD_PROTOCOL = FORWARD_PROTOCOL.encode()
_STREAM_ID = re.compile(rb"[0-9]{1,3}\.[A-Za-z0-9_-]{32}")


def _stream(request: Request, path: bytes) -> Adopt | Reply:
    """An agent's stream arriving (SPEC §11): its id is all it needs to show."""
    stream_id = path[len(_STREAM_PATH) :]
    upgrade = (request.header(b"upgrade") or b"").strip().lower()
    if upgrade != STREAM_PROTOCOL.encode() or not _STREAM_ID.fullmatch(stream_id):
        return page(400, "Bad request", "a stream needs its id and an upgrade to it")
    return Adopt(stream_id.decode("ascii"))


def _unauthorized(reason: str) -> Reply:
    """The API's own 401, given before a body it would not read arrives."""
    return message(401, reason, (b"WWW-Authenticate", b"Bearer"))


def _not_found(what: str, home: tuple[str, str]) -> Reply:
    return page(
        404,
        "Application not found",
        f"There is no {what}, or you may not open it. Check the address, or sign in as someone "
        "who may.",
        home,
    )


class AppRouter:
    """Routes requests by their Host and path; ``api`` is where everything else goes."""

    def __init__(
        self,
        access_url: str,
        wildcard: WildcardPattern | None,
        directory: Directory,
        signer: SessionSigner,
        api: Upstream,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        parts = urlsplit(access_url)
        self._access_url = access_url.rstrip("/")
        self._access_host = (parts.hostname or "").lower()
        self._scheme = parts.scheme
        self._scheme_bytes = parts.scheme.encode()
        self._secure = parts.scheme == "https"
        self._wildcard = wildcard
        self._directory = directory
        self._signer = signer
        self.api = api
        """Where requests that are not for an app go."""
        self.home = (self._access_url + "/", "Back to your workspaces")
        """The dashboard, which templater's error pages link back to."""
        self._max_body = max_body
        self._labels: dict[bytes, str | None] = {}

    def _label(self, host: str) -> str | None:
        """The app label ``host`` names, or None when it is not an app host; remembered."""
        assert self._wildcard is not None
        label = self._wildcard.match(host)
        if label is not None and _hostname(host) == self._access_host:
            label = None
        if len(self._labels) >= _HOSTS_KEPT:
            self._labels.clear()
        self._labels[host.encode("latin-1")] = label
        return label

    async def route(self, request: Request) -> Reply | Forward | Adopt | Splice:
        if _HOP_INDEX in request.index:
            return page(
                508,
                "Loop detected",
                "This request already went through templater to an app, and came back: an app "
                "whose URL leads to templater itself would multiply it without end.",
            )
        host = request.index.get(b"host")
        if host is not None and len(host) > _HOST_LIMIT:
            return page(400, "Invalid host", "The Host header is too long to name any host.")
        if host and self._wildcard is not None:
            try:
                label = self._labels[host]
            except KeyError:
                label = self._label(host.decode("latin-1"))
            if label is not None:
                return await self._subdomain(request, label)
        path = request.target.partition(b"?")[0]
        if path.startswith((b"/@", b"/%40")):
            return await self._path(request)
        if path.startswith(_STREAM_PATH):
            return _stream(request, path)
        if path.startswith(ssh.PATH):
            return await ssh.ssh_route(self._directory, request, path)
        upgrade = request.index.get(b"upgrade")
        if upgrade is not None and upgrade.strip().lower() == _FORWARD_PROTOCOL:
            return await self._forward(request, path)
        return await self._to_api(request, path)

    async def _forward(self, request: Request, path: bytes) -> Splice | Reply:
        """A ``templater port-forward`` connection (SPEC §9): the workspace's owner or an admin
        may have one, to any port of its agents, whatever the port's share level."""
        found = _FORWARD_PATH.fullmatch(path)
        if found is None:
            return message(
                404,
                "a forwarded connection asks for "
                "/api/v1/workspaces/OWNER/WORKSPACE/agents/AGENT/forward/tcp|udp/PORT",
            )
        user = await self._token_user(request)
        if isinstance(user, Reply):
            return user
        owner, workspace, agent = (
            unquote_to_bytes(found[name]).decode("utf-8", "replace")
            for name in ("owner", "workspace", "agent")
        )
        protocol, port = found["protocol"].decode(), int(found["port"])
        if user.name != owner and not user.is_admin:
            return message(403, f"only {owner} and admins may forward ports of {owner}/{workspace}")
        if not 1 <= port <= 65535:
            return message(400, f"port {port} is not from 1 to 65535")
        target = await self._directory.port(owner, workspace, agent, port)
        if target is None:
            return message(404, f"there is no agent {agent} in workspace {owner}/{workspace}")
        return Splice(target.agent_id, port, protocol, FORWARD_PROTOCOL)

    async def _token_user(self, request: Request) -> User | Reply:
        """Who the request's API token belongs to, or the API's 401 saying why not."""
        authorization, header = (
            request.index.get(b"authorization"),
            request.index.get(SESSION_HEADER),
        )
        token = presented_token(
            authorization.decode("latin-1") if authorization is not None else None,
            header.decode("latin-1") if header is not None else None,
        )
        if token is None:
            return _unauthorized(NO_TOKEN)
        user = await self._directory.user_by_token(token)
        if user is None:
            return _unauthorized(BAD_TOKEN)
        request.user = user.name
        return user

    async def _to_api(self, request: Request, path: bytes) -> Reply | Forward:
        """The request for the API. Its body is read only for a caller with a valid token (SPEC
        §15): the sign-in forms, which come before any token, take small bodies only."""
        forward = Forward(
            self.api,
            request.target,
            self._forwarded(request, request.index.get(b"host") or b"", to_app=False),
            "the API",
            body_limit=self._max_body,
        )
        if not request.has_body:
            return forward
        if path in _FORM_PATHS:
            forward.body_limit = FORM_LIMIT
            return forward
        if path in _SESSION_FORM_PATHS:
            if await self._identify(request, ACCESS_COOKIE, "") is None:
                return redirect(303, f"{SIGN_IN_PATH}?{urlencode({'redirect': '/'})}")
            forward.body_limit = FORM_LIMIT
            return forward
        user = await self._token_user(request)
        return user if isinstance(user, Reply) else forward

    # --------------------------------------------------------------------- subdomain access

    async def _subdomain(self, request: Request, label: str) -> Reply | Forward:
        parsed = _parsed_label(label)
        if isinstance(parsed, str):
            return page(400, "Invalid application URL", parsed)
        assert self._wildcard is not None
        origin = request.index.get(b"origin")
        allowed = cors.allowed_origin(origin, parsed.user, self._wildcard)
        requested_method = request.index.get(b"access-control-request-method")
        if request.method == b"OPTIONS" and requested_method is not None:
            headers = cors.preflight_headers(
                origin,
                requested_method,
                request.header(b"access-control-request-headers"),
                allowed is not None,
            )
            return Reply(200, [*headers, (b"Content-Length", b"0")])
        path, _, query = request.target.partition(b"?")
        if _TICKET in query:
            return await self._redeem(
                request, label, path.decode("latin-1"), query.decode("latin-1")
            )
        viewer = await self._identify(request, APP_COOKIE, label)
        target: AppRoute | PortRoute | None
        if parsed.slug is not None:
            target = await self._directory.app(parsed.user, parsed.workspace, parsed.slug)
            if target is not None and not target.subdomain:
                target = None
        else:
            assert parsed.agent is not None and parsed.port is not None
            target = await self._directory.port(
                parsed.user, parsed.workspace, parsed.agent, parsed.port
            )
        what = _describe(label)
        decision = _decision(target, viewer, admins_reach=True)
        if decision is Access.SIGN_IN:
            back = self._wildcard.app_origin(label, self._access_url)
            back += request.target.decode("latin-1")
            return redirect(
                303, f"{self._access_url}{AUTH_REDIRECT_PATH}?{urlencode({'redirect_uri': back})}"
            )
        if decision is Access.HIDE or target is None:
            return _not_found(what, self.home)

        rewrite = _STRIP_CORS if allowed is None else partial(cors.response_headers, origin=allowed)
        if target.agent_state != AGENT_CONNECTED:
            return _agent_not_connected(target, what, self.home)
        if isinstance(target, PortRoute):
            upstream = _agent_upstream(target.agent_id, "localhost", target.port, parsed.https)
            forwarded = self._forwarded(request, b"localhost:%d" % target.port)
            return Forward(upstream, request.target, forwarded, what, rewrite)
        return self._to_app(request, target, path, query, what, rewrite)

    async def _redeem(self, request: Request, label: str, path: str, query: str) -> Reply:
        """Trade a sign-in ticket for a session cookie on this app host, then drop the ticket from
        the address."""
        pairs = parse_qsl(query, keep_blank_values=True)
        ticket = next((value for key, value in pairs if key == TICKET_PARAMETER), "")
        rest = urlencode([(key, value) for key, value in pairs if key != TICKET_PARAMETER])
        clean = same_host_path(path + (f"?{rest}" if rest else ""))
        session = await self._directory.redeem_ticket(ticket, label)
        if session is None:
            return page(
                400,
                "Sign-in link expired",
                "This sign-in link has expired or was already used. Open the app again to sign in.",
                (clean, "Open the app"),
            )
        request.user = session.user.name
        cookie = set_cookie(APP_COOKIE, self._signer.issue(session.id, label), self._secure)
        return redirect(303, clean, (b"Set-Cookie", cookie.encode("latin-1")))

    # --------------------------------------------------------------------- path access

    async def _path(self, request: Request) -> Reply | Forward:
        raw_path, _, query = request.target.partition(b"?")
        path = raw_path.decode("latin-1")
        parsed = parse_app_path(path)
        if parsed is None:
            return _not_found("app at this address", self.home)
        suffix = f"?{query.decode('latin-1')}" if query else ""
        if parsed.needs_slash:
            return redirect(307, f"{path}/{suffix}")
        user = parsed.user
        what = f"app {parsed.slug} in {user}/{parsed.workspace}"
        found = await self._directory.app(user, parsed.workspace, parsed.slug)
        target = (
            found
            if found is not None and not found.subdomain and parsed.agent in (None, found.agent)
            else None
        )
        viewer = await self._identify(request, ACCESS_COOKIE, "")
        decision = _decision(target, viewer, admins_reach=False)
        if decision is Access.SIGN_IN:
            return redirect(303, f"{SIGN_IN_PATH}?{urlencode({'redirect': path + suffix})}")
        if decision is Access.HIDE or target is None:
            return _not_found(what, self.home)
        if target.agent_state != AGENT_CONNECTED:
            return _agent_not_connected(target, what, self.home)
        return self._to_app(request, target, parsed.rest.encode("latin-1"), query, what, None)

    # --------------------------------------------------------------------- shared

    def _to_app(
        self,
        request: Request,
        app: AppRoute,
        path: bytes,
        query: bytes,
        what: str,
        rewrite: Rewrite | None,
    ) -> Reply | Forward:
        target = _app_target(app.url)
        if path == b"/" and not query and target.query:
            # As Coder does: the app's own query (code-server's ?folder=) is its default.
            return redirect(307, f"{request.target.decode('latin-1')}?{target.query}")
        if _leaves_base(path):
            return page(
                400,
                "Invalid path",
                "This address climbs above the app's own path (a .. segment, written out or "
                "percent-encoded); the app is only reached below it.",
            )
        upstream_target = target.base + path
        if query:
            upstream_target += b"?" + query
        upstream = _agent_upstream(
            app.agent_id, target.hostname, target.port, target.scheme == "https"
        )
        return Forward(
            upstream, upstream_target, self._forwarded(request, target.host), what, rewrite
        )

    async def _identify(self, request: Request, cookie: str, host: str) -> User | None:
        """Who is asking (see ``_viewer``), noted on ``request`` for the log."""
        asking = self._viewer(request, cookie, host)
        if asking is None:
            return None
        viewer = await asking
        if viewer is not None:
            request.user = viewer.name
        return viewer

    def _viewer(self, request: Request, cookie: str, host: str) -> Awaitable[User | None] | None:
        """Who is asking, to await: the session header's token, or the session cookie for this
        host; None when the request carries neither (no lookup to wait for)."""
        token = request.index.get(SESSION_HEADER)
        if token:
            return self._directory.user_by_token(token.decode("latin-1"))
        cookies = request.index.get(b"cookie")
        value = cookie_value(cookies.decode("latin-1"), cookie) if cookies else None
        session = self._signer.session(value, host) if value else None
        return self._directory.user_by_session(session) if session is not None else None

    def _forwarded(self, request: Request, host: bytes, to_app: bool = True) -> Headers:
        """The request's headers for the upstream: ``host`` as Host and the X-Forwarded headers
        set; for an app, templater's session header, cookies and bearer tokens removed."""
        headers: Headers = [(b"Host", host)]
        forwarded_for = request.client.encode()
        dropped = hop_by_hop(request.index.get(b"connection"))
        for name, value in request.headers:
            lowered = name.lower()
            if lowered in dropped:
                continue
            if lowered not in _REPLACED or (not to_app and lowered in _SESSION_CARRIERS):
                headers.append((name, value))
            elif lowered == b"cookie":
                kept = without_cookies(value, _TEMPLATER_COOKIES)
                if kept:
                    headers.append((b"Cookie", kept))
            elif lowered == b"authorization":
                # The app's own credentials pass; a templater token is no app's business.
                if not value.strip().lower().startswith(_TEMPLATER_BEARERS):
                    headers.append((name, value))
            elif lowered == b"x-forwarded-for":
                forwarded_for = value + b", " + forwarded_for
        headers.append((b"X-Forwarded-For", forwarded_for))
        headers.append((b"X-Forwarded-Host", request.index.get(b"host") or b""))
        headers.append((b"X-Forwarded-Proto", self._scheme_bytes))
        if to_app:
            headers.append((HOP_MARKER, b"1"))
        return headers


def _hostname(host: str) -> str:
    """``host`` without its port and trailing dot, lower-cased."""
    if host.startswith("["):
        return host.partition("]")[0][1:].lower()
    return host.rpartition(":")[0].rstrip(".").lower() if ":" in host else host.rstrip(".").lower()


def same_host_path(target: str | None) -> str:
    """``target`` if it is a path on the host it was asked on, else ``/``: a redirect never sends
    anyone away. ``//host`` and ``/\\host`` are other hosts to a browser, which also drops tabs
    and line breaks from a URL before it reads one."""
    if target is None:
        return "/"
    seen = target.translate(_URL_WHITESPACE)
    if seen.startswith("/") and seen[1:2] not in ("/", "\\"):
        return target
    return "/"


_URL_WHITESPACE = str.maketrans("", "", "\t\n\r")


def auth_redirect_target(
    redirect_uri: str, wildcard: WildcardPattern | None, access_url: str
) -> str | None:
    """The app label ``redirect_uri`` points at, if it is an app URL of this deployment, on the
    scheme and port its app hosts are served at (so that the sign-in flow never redirects
    anywhere else); None otherwise."""
    if wildcard is None:
        return None
    try:
        parts = urlsplit(redirect_uri)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.username is not None:
        return None
    label = wildcard.match(parts.netloc)
    if label is None:
        return None
    try:
        parse_label(label)
    except HostnameError:
        return None
    origin = f"{parts.scheme}://{parts.netloc}".lower().rstrip(".")
    if origin != wildcard.app_origin(label, access_url).lower():
        return None
    return label


def with_ticket(redirect_uri: str, ticket: str) -> str:
    """``redirect_uri`` with the sign-in ticket added to its query."""
    parts = urlsplit(redirect_uri)
    query = f"{parts.query}&" if parts.query else ""
    return parts._replace(query=f"{query}{TICKET_PARAMETER}={quote(ticket)}").geturl()
