"""The messages of the agent's control channel (SPEC §11): small JSON objects, one per WebSocket
text frame, each with a ``type``. Both ends are hostile to each other's mistakes: ``decode``
accepts only the shapes below, within their limits, and raises ``BadMessage`` for anything else,
so that the receiver closes the connection instead of acting on it.

Agent to control plane: ``hello``, ``health``, ``ports``, ``refused``.
Control plane to agent: ``checks``, ``open``.

A stream (``open``) is the control plane asking the agent to dial ``localhost:PORT`` (or, for
``SSH_PORT``, to serve the stream with its own SSH server); the agent dials first, then connects back to ``STREAM_PATH`` + id with an HTTP/1.1 upgrade to
``STREAM_PROTOCOL`` and carries raw bytes both ways; when the dial fails it sends ``refused``
instead. The id is a secret the agent learns only on its authenticated channel, so presenting it
is what authorises the stream.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from templater.model.records import AgentCheck, ListeningPort

CONTROL_PATH = "/api/v1/agent/connect"
"""Where an agent opens its control channel (a WebSocket, with ``Authorization: Bearer``)."""
STREAM_PATH = "/api/v1/agent/streams/"
"""Where an agent connects back with a stream: this path, then the stream's id."""
STREAM_PROTOCOL = "templater-stream"
"""The ``Upgrade`` token of a stream."""
SSH_PORT = 0
"""The port an ``open`` names for the agent's embedded SSH server (SPEC §12): no real port is 0,
and that server listens on none, so this one number stands for it."""

STREAM_PROTOCOLS = ("tcp", "udp")
"""What a stream may be opened to: a TCP port, or a UDP one."""

PORTS_EVERY = 1.0
"""Seconds between an agent's reports of its listening ports, at the least (SPEC §11: at most once
a second); the control plane stores them no more often."""

MAX_MESSAGE = 1 << 20
"""The largest message either end accepts, in bytes (a check list of thousands of apps fits)."""
_MAX_TEXT = 256
_MAX_URL = 2048
_MAX_ITEMS = 10_000
_HEALTH_STATES = ("initializing", "healthy", "unhealthy")
_HOST_KEY = re.compile(r"(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,2}")
_HOST_KEY_LIMIT = 2048


class BadMessage(ValueError):
    """A message that is not one of the shapes of this module."""


@dataclass(frozen=True, slots=True)
class Hello:
    version: str
    os: str
    arch: str
    hostname: str
    ssh_host_key: str = ""
    """The agent's SSH host public key, as OpenSSH writes it (``ssh-ed25519 AAAA…``); empty from
    an agent that has none."""


@dataclass(frozen=True, slots=True)
class HealthChange:
    slug: str
    state: str
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Health:
    changes: tuple[HealthChange, ...]


@dataclass(frozen=True, slots=True)
class Ports:
    """Every port the agent sees listening now (not a change)."""

    ports: tuple[ListeningPort, ...]


@dataclass(frozen=True, slots=True)
class Refused:
    """The agent could not dial the port a stream asked for."""

    id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Checks:
    """Every app the agent must check, pushed on connecting and after every apply, and the
    ports of all its apps' URLs (not listed among its listening ports)."""

    checks: tuple[AgentCheck, ...]
    app_ports: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Open:
    """Open a stream to ``localhost:port`` in the workspace (to the agent's SSH server for
    SSH_PORT), identified by ``id``: to a TCP port, or to a UDP port (``protocol`` "udp"), the
    stream then carrying datagrams framed by ``templater.relay.datagrams``."""

    id: str
    port: int
    protocol: str = "tcp"


Message = Hello | Health | Ports | Refused | Checks | Open


def encode(message: Message) -> str:
    """The JSON text of a message."""
    body: dict[str, Any]
    match message:
        case Hello():
            body = {
                "type": "hello",
                "version": message.version,
                "os": message.os,
                "arch": message.arch,
                "hostname": message.hostname,
                "ssh_host_key": message.ssh_host_key,
            }
        case Health():
            body = {
                "type": "health",
                "changes": [
                    {"slug": c.slug, "state": c.state, "reason": c.reason, "at": c.at.isoformat()}
                    for c in message.changes
                ],
            }
        case Ports():
            body = {
                "type": "ports",
                "ports": [{"port": p.port, "process": p.process} for p in message.ports],
            }
        case Refused():
            body = {"type": "refused", "id": message.id, "reason": message.reason}
        case Checks():
            body = {
                "type": "checks",
                "checks": [
                    {
                        "slug": c.slug,
                        "url": c.url,
                        "interval": c.interval,
                        "threshold": c.threshold,
                        "health": c.health,
                    }
                    for c in message.checks
                ],
                "app_ports": list(message.app_ports),
            }
        case Open():
            body = {
                "type": "open",
                "id": message.id,
                "port": message.port,
                "protocol": message.protocol,
            }
    return json.dumps(body, separators=(",", ":"))


def decode(text: str | bytes) -> Message:
    """The message ``text`` holds; raises BadMessage for anything else."""
    if len(text) > MAX_MESSAGE:
        raise BadMessage(f"a message of more than {MAX_MESSAGE} bytes")
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        raise BadMessage("not JSON") from None
    if not isinstance(body, dict):
        raise BadMessage("not a JSON object")
    kind = body.get("type")
    reader = _READERS.get(kind) if isinstance(kind, str) else None
    if reader is None:
        raise BadMessage(f"unknown message type {str(kind)[:40]!r}")
    return reader(body)


def _text(body: dict[str, Any], key: str, limit: int = _MAX_TEXT) -> str:
    value = body.get(key)
    if not isinstance(value, str) or len(value) > limit:
        raise BadMessage(f"{key!r} must be text of at most {limit} characters")
    return value


def _integer(body: dict[str, Any], key: str, low: int, high: int) -> int:
    value = body.get(key)
    if type(value) is not int or not low <= value <= high:
        raise BadMessage(f"{key!r} must be a whole number from {low} to {high}")
    return value


def _list(body: dict[str, Any], key: str, optional: bool = False) -> list[Any]:
    value = body.get(key, [] if optional else None)
    if not isinstance(value, list) or len(value) > _MAX_ITEMS:
        raise BadMessage(f"{key!r} must be a list of at most {_MAX_ITEMS} items")
    return value


def _items(body: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = _list(body, key)
    if not all(isinstance(item, dict) for item in value):
        raise BadMessage(f"every item of {key!r} must be an object")
    return value


def _health(body: dict[str, Any]) -> str:
    state = _text(body, "state")
    if state not in _HEALTH_STATES:
        raise BadMessage(f"'state' must be one of {', '.join(_HEALTH_STATES)}")
    return state


def _time(body: dict[str, Any], key: str) -> datetime:
    try:
        at = datetime.fromisoformat(_text(body, key, 64))
    except ValueError:
        raise BadMessage(f"{key!r} must be an ISO 8601 time") from None
    if at.tzinfo is None:
        raise BadMessage(f"{key!r} must name its time zone")
    return at


def _hello(body: dict[str, Any]) -> Hello:
    host_key = _text(
        body | {"ssh_host_key": body.get("ssh_host_key", "")}, "ssh_host_key", _HOST_KEY_LIMIT
    )
    if host_key and not _HOST_KEY.fullmatch(host_key):
        raise BadMessage(
            "'ssh_host_key' must be a public key as OpenSSH writes it, without comment"
        )
    return Hello(
        _text(body, "version"),
        _text(body, "os"),
        _text(body, "arch"),
        _text(body, "hostname"),
        host_key,
    )


def _health_message(body: dict[str, Any]) -> Health:
    return Health(
        tuple(
            HealthChange(_text(c, "slug"), _health(c), _text(c, "reason"), _time(c, "at"))
            for c in _items(body, "changes")
        )
    )


def _ports(body: dict[str, Any]) -> Ports:
    return Ports(
        tuple(
            ListeningPort(_integer(p, "port", 1, 65535), _text(p, "process"))
            for p in _items(body, "ports")
        )
    )


def _refused(body: dict[str, Any]) -> Refused:
    return Refused(_text(body, "id", 64), _text(body, "reason"))


def _checks(body: dict[str, Any]) -> Checks:
    return Checks(
        tuple(
            AgentCheck(
                _text(c, "slug"),
                _text(c, "url", _MAX_URL),
                _integer(c, "interval", 0, 86_400),
                _integer(c, "threshold", 0, 1_000_000),
                _health(c | {"state": c.get("health")}),
            )
            for c in _items(body, "checks")
        ),
        tuple(_port_number(port) for port in _list(body, "app_ports", optional=True)),
    )


def _port_number(value: object) -> int:
    if type(value) is not int or not 1 <= value <= 65535:
        raise BadMessage("a port must be a whole number from 1 to 65535")
    return value


def _open(body: dict[str, Any]) -> Open:
    protocol = body.get("protocol", "tcp")
    if protocol not in STREAM_PROTOCOLS:
        raise BadMessage(f"'protocol' must be one of {', '.join(STREAM_PROTOCOLS)}")
    return Open(_text(body, "id", 64), _integer(body, "port", SSH_PORT, 65535), protocol)


_READERS: dict[str, Callable[[dict[str, Any]], Message]] = {
    "hello": _hello,
    "health": _health_message,
    "ports": _ports,
    "refused": _refused,
    "checks": _checks,
    "open": _open,
}
