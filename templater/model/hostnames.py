"""App hostnames (SPEC §5): the wildcard access URL, the subdomain label grammar and app URLs.

A subdomain app lives at ``{label}`` + the wildcard's suffix, e.g. with ``*.apps.example.com``::

    code-server--dev--alice.apps.example.com          app ``code-server`` of alice's workspace dev
    8080s--main--dev--alice.apps.example.com          port 8080 (HTTPS) on agent main
    some---prefix---code-server--dev--alice.apps...   an optional prefix up to the last ``---``

Path-based apps live at ``{access_url}/@{user}/{workspace}[.{agent}]/apps/{slug}/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import urlsplit

LABEL_LIMIT = 63
"""The longest DNS label; Coder does not check it and longer app labels fail silently."""

MIN_PORT = 9
"""Ports below this are used or reserved by the workspace agent (Coder's AgentMinimumListeningPort)."""
MAX_PORT = 65535
"""The highest TCP port."""

_PART = r"[a-zA-Z0-9]+(?:-[a-zA-Z0-9]+)*"
_PART_RE = re.compile(_PART)
_LABEL_RE = re.compile(
    rf"(?P<first>{_PART})(?:--(?P<agent>{_PART}))?--(?P<ws>{_PART})--(?P<user>{_PART})"
)
_PORT_RE = re.compile(r"(?P<digits>[0-9]{4,5})(?P<s>s?)")
_DNS_LABEL_RE = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?")
_PREFIX_SEPARATOR = "---"
_GRAMMAR = "{slug}--{workspace}--{user} or {port}[s]--{agent}--{workspace}--{user}"


class HostnameError(ValueError):
    """A wildcard pattern, app label or app URL part that templater cannot use."""


# --- wildcard access URL ----------------------------------------------------------------------


@dataclass(frozen=True)
class WildcardPattern:
    """A compiled ``--wildcard-access-url``: ``pattern`` is the lower-cased host part with its one
    ``*`` (``*.apps.example.com``), ``port`` the port it was given with, if any."""

    pattern: str
    port: int | None
    _regex: re.Pattern[str] = field(repr=False, compare=False)

    def __str__(self) -> str:
        return self.pattern if self.port is None else f"{self.pattern}:{self.port}"

    def match(self, host: str) -> str | None:
        """The part of ``host`` that the ``*`` stands for, lower-cased; None if ``host`` is not
        under this pattern. Case is ignored, as are one trailing dot, any port and surrounding
        whitespace; the ``*`` never spans a dot."""
        found = self._regex.fullmatch(host)
        return found.group(1).lower() if found else None

    def host_for(self, label: str) -> str:
        """The pattern with ``*`` replaced by ``label``, plus ``:port`` when the pattern had one."""
        if not label or "." in label:
            raise HostnameError(f"app label {label!r} must be one non-empty DNS label (no dots)")
        host = self.pattern.replace("*", label, 1)
        return host if self.port is None else f"{host}:{self.port}"

    def app_origin(self, label: str, access_url: str) -> str:
        """``scheme://host[:port]`` of the app host with ``label``: app hosts share the access
        URL's scheme, and its port unless the pattern names one (as Coder does), e.g.
        ``http://code-server--dev--alice.apps.localhost:7080``."""
        access = urlsplit(access_url)
        host = self.host_for(label)
        if self.port is None and access.port is not None:
            host += f":{access.port}"
        return f"{access.scheme}://{host}"


def compile_wildcard(pattern: str) -> WildcardPattern:
    """Check a wildcard access URL such as ``*.apps.example.com`` or ``*--apps.example.com:7080``
    (exactly one ``*``, at the start of the first label) and compile it; HostnameError says what
    is wrong with it otherwise."""
    text = pattern.strip().lower()

    def refuse(problem: str) -> HostnameError:
        return HostnameError(f"wildcard access URL {pattern!r} {problem}")

    if "://" in text or text.startswith(("http:", "https:")):
        scheme, _, rest = text.partition(":")
        rest = rest.lstrip("/")
        raise refuse(f"must not contain a scheme ({scheme!r}); give the host only, like {rest!r}")
    host, port = text, None
    if ":" in text:
        host, _, port_text = text.rpartition(":")
        port = _pattern_port(port_text)
        if port is None:
            raise refuse(
                f"has an invalid port {port_text!r}; expected a number from 1 to {MAX_PORT}"
            )
    if host.startswith(".") or host.endswith("."):
        raise refuse("must not start or end with a period")
    if "." not in host:
        raise refuse("must contain at least two labels, like '*.apps.example.com'")
    stars = host.count("*")
    if stars != 1:
        raise refuse(f"must contain exactly one asterisk '*', found {stars}")
    labels = host.split(".")
    if not host.startswith("*"):
        starred = next(label for label in labels if "*" in label)
        raise refuse(
            f"must only contain an asterisk at the beginning of the first label, found it in {starred!r}"
        )
    for index, label in enumerate(labels):
        checked = "a" + label[1:] if index == 0 else label
        if len(checked) > LABEL_LIMIT or not _DNS_LABEL_RE.fullmatch(checked):
            raise refuse(
                f"contains invalid label {label!r}: a label is letters, digits and hyphens, "
                f"not starting or ending with a hyphen, at most {LABEL_LIMIT} characters"
            )
    regex = re.compile(
        r"\s*([^.:\s]+)" + re.escape(host[1:]) + r"\.?(?::[0-9]+)?\s*",
        re.IGNORECASE | re.ASCII,
    )
    return WildcardPattern(pattern=host, port=port, _regex=regex)


def _pattern_port(text: str) -> int | None:
    if not text.isascii() or not text.isdigit():
        return None
    port = int(text)
    return port if 1 <= port <= MAX_PORT else None


# --- the subdomain label ----------------------------------------------------------------------


@dataclass(frozen=True)
class AppLabel:
    """A parsed subdomain label. For an app ``slug`` is set and ``port``/``agent`` are None; for a
    port ``slug`` is None and ``port``, ``https`` and ``agent`` are set. ``prefix`` ends in ``---``
    or is empty."""

    prefix: str
    slug: str | None
    port: int | None
    https: bool
    agent: str | None
    workspace: str
    user: str

    @property
    def label(self) -> str:
        """The label again (a port is written with at least 4 digits)."""
        if self.port is not None and self.agent is not None:
            body = port_label(self.port, self.https, self.agent, self.workspace, self.user)
        else:
            body = app_label(self.slug or "", self.workspace, self.user)
        return self.prefix + body


def parse_label(label: str) -> AppLabel:
    """Parse a subdomain label: ``[PREFIX---]{slug}[--{agent}]--{workspace}--{user}`` for an app
    (the agent part is accepted and ignored) or ``[PREFIX---]{port}[s]--{agent}--{workspace}--{user}``
    for a port (4 or 5 digits, ``s`` = HTTPS). HostnameError when it is neither."""
    *prefix_parts, body = label.split(_PREFIX_SEPARATOR)
    prefix = "".join(part + _PREFIX_SEPARATOR for part in prefix_parts)
    found = _LABEL_RE.fullmatch(body)
    if found is None:
        raise HostnameError(f"invalid application URL {label!r}: {_why_invalid(body)}")
    first, agent, workspace, user = found.group("first", "agent", "ws", "user")
    port_match = _PORT_RE.fullmatch(first)
    if port_match is None:
        return AppLabel(prefix, first, None, False, None, workspace, user)
    if agent is None:
        raise HostnameError(
            f"agent name is required for port-based URLs: {label!r}; "
            f"expected {first}--{{agent}}--{workspace}--{user}"
        )
    port = int(port_match.group("digits"))
    _check_port(port, f"in {label!r}")
    return AppLabel(prefix, None, port, port_match.group("s") == "s", agent, workspace, user)


def _why_invalid(body: str) -> str:
    expected = f"expected {_GRAMMAR}"
    if not body:
        return f"nothing after the prefix; {expected}"
    bad = next(
        (char for char in body if not (char.isascii() and (char.isalnum() or char == "-"))), None
    )
    if bad is not None:
        return f"it contains {bad!r}; only letters, digits and hyphens are allowed"
    parts = body.split("--")
    if not 3 <= len(parts) <= 4:
        return f"it has {len(parts)} part{'' if len(parts) == 1 else 's'} separated by '--'; {expected}"
    part = next(part for part in parts if not _PART_RE.fullmatch(part))
    if not part:
        return f"it has an empty part; {expected}"
    return f"part {part!r} must start and end with a letter or digit"


def _check_port(port: int, where: str) -> None:
    if port < MIN_PORT:
        raise HostnameError(
            f"port {port} {where} is not permitted: ports below {MIN_PORT} are reserved for the "
            "workspace agent"
        )
    if port > MAX_PORT:
        raise HostnameError(f"port {port} {where} is out of range: the highest port is {MAX_PORT}")


def _check_part(what: str, value: str) -> None:
    if not _PART_RE.fullmatch(value):
        raise HostnameError(
            f"{what} {value!r} cannot be part of an app URL: it must be letters and digits, "
            "joined by single hyphens"
        )


def app_label(slug: str, workspace: str, user: str) -> str:
    """``{slug}--{workspace}--{user}``; the agent is never part of an app label."""
    _check_part("app slug", slug)
    if _PORT_RE.fullmatch(slug):
        raise HostnameError(
            f"app slug {slug!r} would be read as a port; choose a slug with a letter"
        )
    _check_part("workspace name", workspace)
    _check_part("username", user)
    return f"{slug}--{workspace}--{user}"


def port_label(port: int, https: bool, agent: str, workspace: str, user: str) -> str:
    """``{port}[s]--{agent}--{workspace}--{user}``; ports below 1000 are zero-padded to 4 digits
    so that they still read as ports."""
    _check_port(port, "for a port URL")
    for what, value in (("agent name", agent), ("workspace name", workspace), ("username", user)):
        _check_part(what, value)
    return f"{port:04d}{'s' if https else ''}--{agent}--{workspace}--{user}"


def label_overflow(label: str) -> int:
    """How many characters ``label`` is over the 63-character DNS label limit; 0 if it fits."""
    return max(0, len(label) - LABEL_LIMIT)


# --- path-based apps --------------------------------------------------------------------------

_APP_PATH_RE = re.compile(
    r"/(?:@|%40)(?P<user>[^/]+)/(?P<ws>[^/.]+)(?:\.(?P<agent>[^/]+))?/apps/(?P<slug>[^/]+)(?P<rest>/.*)?",
    re.DOTALL,
)


class AppPath(NamedTuple):
    """A path-based app request. ``rest`` is what follows the slug, starting with ``/``, or ""
    when the path ends right after the slug (then ``needs_slash``: redirect to add it)."""

    user: str
    workspace: str
    agent: str | None
    slug: str
    rest: str

    @property
    def needs_slash(self) -> bool:
        return self.rest == ""


def path_app_url(
    access_url: str, user: str, workspace: str, slug: str, agent: str | None = None
) -> str:
    """``{access_url}/@{user}/{workspace}[.{agent}]/apps/{slug}/``."""
    for what, value in (("username", user), ("workspace name", workspace), ("app slug", slug)):
        _check_part(what, value)
    if agent is not None:
        _check_part("agent name", agent)
    target = workspace if agent is None else f"{workspace}.{agent}"
    return f"{access_url.rstrip('/')}/@{user}/{target}/apps/{slug}/"


def parse_app_path(path: str) -> AppPath | None:
    """Split ``/@user/workspace[.agent]/apps/slug/rest…`` (also ``/%40user/…``; the path without
    its query string); None when ``path`` is not a path-based app URL."""
    found = _APP_PATH_RE.fullmatch(path)
    if found is None:
        return None
    user, workspace, agent, slug, rest = found.group("user", "ws", "agent", "slug", "rest")
    return AppPath(user, workspace, agent, slug, rest or "")
