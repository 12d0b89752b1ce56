"""What the app router decides for one HTTP request, as plain data: answer it (``Reply``) or pass
it on (``Forward``) to an ``Upstream``. The proxy carries these out; the router never touches a
socket."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_MAX_BODY = 16 * 1024 * 1024
"""Bytes of a request body the API is sent at most, unless ``--max-body`` says otherwise."""

Headers = list[tuple[bytes, bytes]]
"""Header ``(name, value)`` pairs as they travel, names in any case."""

Rewrite = Callable[[bytes], bytes]
"""Turns an upstream response's header lines (each ending in CRLF) into the ones the client
gets."""


_HOP_NAMES = (b"connection", b"keep-alive", b"proxy-connection", b"te", b"upgrade")
_HOP_MARKERS = tuple((name, b"\n" + name + b":") for name in _HOP_NAMES)

HOP_BY_HOP = frozenset(
    {*_HOP_NAMES, b"trailer", b"transfer-encoding", b"content-length", b"expect"}
)
"""Request headers that describe one hop, not the message: never passed on (the proxy frames
each hop itself), and neither are the ones a ``Connection`` header lists."""

# Tokens a Connection header may carry that name no other header to drop, and the framing headers
# a response keeps whatever its Connection header says (its body passes through as framed).
_NOT_LISTED = frozenset(
    {b"", b"close", b"keep-alive", b"upgrade", b"content-length", b"transfer-encoding"}
)


def without_hop_by_hop(fields: bytes, lowered: bytes, keep_upgrade: bool = False) -> bytes:
    """A response's header lines (each ending in CRLF) without its hop-by-hop headers: those in
    _HOP_NAMES (but Upgrade when ``keep_upgrade``) and those its Connection header lists.
    ``lowered`` is ``b"\\n" + fields.lower()``, for quick checks: most responses need no edit."""
    markers = _HOP_MARKERS[:-1] if keep_upgrade else _HOP_MARKERS
    for name, marker in markers:
        if marker in lowered:
            fields, lowered, values = _cut(fields, lowered, marker)
            if name == b"connection":
                listed = {token.strip().lower() for value in values for token in value.split(b",")}
                for extra in sorted(listed - _NOT_LISTED):
                    fields, lowered, _ = _cut(fields, lowered, b"\n" + extra + b":")
    return fields


def _cut(fields: bytes, lowered: bytes, marker: bytes) -> tuple[bytes, bytes, list[bytes]]:
    """``fields`` and ``lowered`` (see without_hop_by_hop) without the lines of the header that
    ``marker`` (``b"\\nname:"``) finds, and those lines' values."""
    values = []
    start = lowered.find(marker)  # where the line starts in ``fields``
    while start >= 0:
        end = fields.find(b"\n", start) + 1 or len(fields)
        values.append(fields[start:end].partition(b":")[2].strip())
        fields = fields[:start] + fields[end:]
        lowered = lowered[: start + 1] + lowered[end + 1 :]
        start = lowered.find(marker, start)
    return fields, lowered, values


def hop_by_hop(connection: bytes | None) -> frozenset[bytes]:
    """HOP_BY_HOP plus what a ``Connection`` header's value lists."""
    if connection is None:
        return HOP_BY_HOP
    listed = {token.strip().lower() for token in connection.split(b",")}
    return HOP_BY_HOP | listed - {b""}


class Request:
    """A request's head, as the proxy received it: ``target`` is the path and query as sent
    (still percent-encoded), ``index`` the first value of each header by lower-case name,
    ``client`` the peer's IP address. ``user`` is who sent it, once the router knows (for the
    log)."""

    __slots__ = ("client", "has_body", "headers", "index", "method", "target", "user")

    def __init__(
        self,
        method: bytes,
        target: bytes,
        headers: Headers,
        index: dict[bytes, bytes],
        client: str,
    ) -> None:
        self.method = method
        self.target = target
        self.headers = headers
        self.index = index
        self.client = client
        self.has_body = b"transfer-encoding" in index or (
            b"content-length" in index and index[b"content-length"].strip() != b"0"
        )
        self.user: str | None = None

    def header(self, name: bytes) -> bytes | None:
        """The first value of header ``name`` (lower-case)."""
        return self.index.get(name)


@dataclass(frozen=True, slots=True)
class Upstream:
    """Where a request goes: ``host:port`` (over TLS when ``tls``) in the workspace of agent
    ``agent``, through a stream from it; or templater's own API, on the Unix socket at ``path``.
    Nothing else: the router never connects to a workspace itself (SPEC §11)."""

    host: str
    port: int
    tls: bool = False
    path: str | None = None
    agent: int | None = None

    def __str__(self) -> str:
        return self.path or f"port {self.port} in the workspace"


@dataclass(slots=True)
class Reply:
    """An answer templater gives itself: a page, a redirect or a preflight."""

    status: int
    headers: Headers
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class Adopt:
    """The connection is a workspace agent's stream (``stream_id``): the proxy hands it to the
    stream broker instead of answering it."""

    stream_id: str


@dataclass(slots=True)
class Forward:
    """Pass the request on to ``upstream`` as ``target`` with ``headers`` (Host first); the
    proxy adds the framing and hop-by-hop headers. ``rewrite`` turns the response's headers into
    what the client gets; ``name`` says what the upstream is, for the page shown when it cannot
    be reached."""

    upstream: Upstream
    target: bytes
    headers: Headers
    name: str
    rewrite: Rewrite | None = None
    body_limit: int | None = None
    """The most bytes of body the upstream is given (413 past it); None: no limit."""


@dataclass(frozen=True, slots=True)
class Splice:
    """A connection upgraded to ``upgrade`` (``templater port-forward``'s, SPEC §9, or
    ``templater ssh``'s, §12): once a stream to ``port`` (``protocol``, tcp or udp; SSH_PORT:
    the agent's SSH server) in the workspace of agent ``agent`` is open, the proxy answers
    ``101`` and joins the two."""

    agent: int
    port: int
    protocol: str
    upgrade: str
