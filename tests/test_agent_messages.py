"""The control channel's messages: every shape round-trips, and anything else is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from templater.model.agent_messages import (
    MAX_MESSAGE,
    SSH_PORT,
    BadMessage,
    Checks,
    Health,
    HealthChange,
    Hello,
    Message,
    Open,
    Ports,
    Refused,
    decode,
    encode,
)
from templater.model.records import AgentCheck, ListeningPort

AT = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)

MESSAGES: list[Message] = [
    Hello("0.1.0", "linux", "x86_64", "ws-1"),
    Hello("0.1.0", "linux", "x86_64", "ws-1", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0="),
    Health((HealthChange("code", "healthy", "status 200", AT),)),
    Ports((ListeningPort(8080, "python3"), ListeningPort(3000, ""))),
    Refused("0.abc", "port 9: connection refused"),
    Checks((AgentCheck("code", "http://localhost:13337/healthz", 5, 3, "initializing"),), (13337,)),
    Open("1.xyz", 8080),
    Open("1.xyz", SSH_PORT),
    Open("1.xyz", 5353, "udp"),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_every_message_comes_back_as_it_went(message: Message) -> None:
    assert decode(encode(message)) == message


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("not json", "not JSON"),
        ("[1]", "not a JSON object"),
        ('{"type": "shell", "command": "rm -rf /"}', "unknown message type"),
        ('{"type": "open", "id": "x", "port": -1}', "'port' must be a whole number"),
        ('{"type": "open", "id": "x", "port": 65536}', "'port' must be a whole number"),
        ('{"type": "open", "id": "x", "port": true}', "'port' must be a whole number"),
        ('{"type": "open", "id": "x", "port": 80.5}', "'port' must be a whole number"),
        ('{"type": "open", "id": "x", "port": 80, "protocol": "sctp"}', "'protocol' must be"),
        ('{"type": "hello", "version": 1, "os": "", "arch": "", "hostname": ""}', "'version'"),
        (
            '{"type": "hello", "version": "1", "os": "", "arch": "", "hostname": "",'
            ' "ssh_host_key": "ssh-ed25519 AAAA\\nevil"}',
            "'ssh_host_key' must be a public key",
        ),
        ('{"type": "ports"}', "'ports' must be a list"),
        ('{"type": "ports", "ports": [7]}', "must be an object"),
        (
            '{"type": "health", "changes": [{"slug": "a", "state": "dead", "reason": "",'
            ' "at": "2026-01-01T00:00:00+00:00"}]}',
            "'state' must be one of",
        ),
        (
            '{"type": "health", "changes": [{"slug": "a", "state": "healthy", "reason": "",'
            ' "at": "2026-01-01T00:00:00"}]}',
            "time zone",
        ),
        ("[" * 100_000, "not JSON"),
    ],
)
def test_anything_else_is_refused_saying_why(text: str, says: str) -> None:
    with pytest.raises(BadMessage, match=says):
        decode(text)


def test_a_message_over_the_limit_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(BadMessage, match="more than"):
        decode('{"type": "ports", "ports": []}' + " " * MAX_MESSAGE)


def test_a_list_longer_than_the_limit_is_refused() -> None:
    ports = [{"port": 1000, "process": ""}] * 10_001
    with pytest.raises(BadMessage, match="at most"):
        decode(json.dumps({"type": "ports", "ports": ports}))
