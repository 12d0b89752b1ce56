"""What a healthcheck puts on the wire and how its answer is read: the request a URL makes, the
status line of the final response, and a reason a person can read for every way a check fails."""

from __future__ import annotations

import base64
import errno
import functools
import ipaddress
import os
import re
import ssl
from urllib.parse import quote, unquote, urlsplit

USER_AGENT = "templater-health/0.1"

HEAD_LIMIT = 16384  # the most bytes read of a response head
_MAX_INTERIM = 8  # 1xx interim responses skipped before the final one
LOCAL_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
"""Failures for want of this machine's resources, which are not the app's fault."""

_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([1-9][0-9][0-9])(?: [^\r\n]*)?\r?\n")
_END_OF_HEAD = re.compile(rb"\r?\n\r?\n")
_HOST = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:%\[\]-]+")


class Probe:
    """What a healthcheck URL means on the wire, computed once per URL."""

    __slots__ = ("error", "port", "request", "server_hostname", "tls")

    def __init__(self, url: str) -> None:
        self.error: str | None = None
        self.port = 0
        self.tls = False
        self.server_hostname = ""
        self.request = b""
        try:
            self._parse(url)
        except (ValueError, UnicodeError) as exc:
            self.error = f"invalid URL: {exc}" if str(exc) else "invalid URL"

    def _parse(self, url: str) -> None:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise ValueError(f"scheme {parts.scheme!r} is not http or https")
        host = parts.hostname
        if not host:
            raise ValueError("no host")
        self.tls = scheme == "https"
        self.port = parts.port or (443 if self.tls else 80)
        host_header = parts.netloc.rpartition("@")[2]
        if not host_header.isascii():
            name, colon, port = host_header.rpartition(":") if parts.port else (host_header, "", "")
            host_header = name.encode("idna").decode("ascii") + colon + port
        if not _HOST.fullmatch(host_header):
            raise ValueError(f"host {host_header!r}")
        self.server_hostname = "" if is_ip(host) else host  # SNI: the original host
        target = quote(parts.path or "/", safe="/%:@!$&'()*+,;=~")
        if parts.query:
            target += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=~?")
        lines = [
            f"GET {target} HTTP/1.1",
            f"Host: {host_header}",
            f"User-Agent: {USER_AGENT}",
            "Accept: */*",
            "Connection: close",
        ]
        if parts.username is not None:
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            lines.append(f"Authorization: Basic {base64.b64encode(credentials.encode()).decode()}")
        self.request = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


@functools.lru_cache(maxsize=4096)
def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return False
    return True


def parse_response_head(data: bytes) -> int | None:
    """The status code of the final response whose head begins ``data``, or None if more bytes
    are needed to tell. Interim (1xx but 101) responses are skipped. ValueError if the bytes are
    not an HTTP/1.x response."""
    status = _final_status(data)
    if status is None and len(data) > HEAD_LIMIT:
        raise ValueError("response head too long")
    return status


def _final_status(data: bytes) -> int | None:
    position = 0
    for _ in range(_MAX_INTERIM + 1):
        end = data.find(b"\n", position)
        if end < 0:
            if not _could_be_status(data[position:]):
                raise ValueError("not an HTTP/1.x status line")
            return None
        match = _STATUS_LINE.fullmatch(data, position, end + 1)
        if match is None:
            raise ValueError("not an HTTP/1.x status line")
        status = int(match[1])
        if status >= 200 or status == 101:
            return status
        blank = _END_OF_HEAD.search(data, end - 1 if end and data[end - 1] == 13 else end)
        if blank is None:
            return None
        position = blank.end()
    raise ValueError("too many interim responses")


def _could_be_status(start: bytes) -> bool:
    """Whether an incomplete first line may still become a status line."""
    prefix = b"HTTP/1."
    head = start[: len(prefix)]
    return prefix.startswith(head) if len(head) < len(prefix) else start.startswith(prefix)


_ERRNO_REASONS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.EPIPE: "connection reset",
    errno.ECONNABORTED: "connection aborted",
    errno.EHOSTUNREACH: "no route to host",
    errno.ENETUNREACH: "network unreachable",
    errno.EHOSTDOWN: "host is down",
    errno.EADDRNOTAVAIL: "address not available",
    errno.ETIMEDOUT: "connection timed out",
}


def errno_reason(number: int) -> str:
    return _ERRNO_REASONS.get(number) or f"connection failed: {os.strerror(number).lower()}"


def reason_for(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or type(exc).__name__}"
    if isinstance(exc, OSError) and exc.errno is not None:
        return errno_reason(exc.errno)
    return f"connection failed: {str(exc)[:120] or type(exc).__name__}"


class CannotResolve(Exception):
    pass
