"""The port-forward SPEC grammar (SPEC §9), with every vector the SPEC gives."""

from __future__ import annotations

import pytest

from templater.model.forwarding import PortForward, SpecError, endpoint, parse_forwards


def pairs(*specs: str, protocol: str = "tcp") -> list[tuple[str | None, int, int]]:
    return [
        (f.address, f.local_port, f.remote_port)
        for f in parse_forwards((protocol, spec) for spec in specs)
    ]


def test_the_spec_vector_pairs_every_port() -> None:
    assert pairs("8000,8080:8081,9000-9002,9003-9004:9005-9006") == [
        (None, 8000, 8000),
        (None, 8080, 8081),
        (None, 9000, 9000),
        (None, 9001, 9001),
        (None, 9002, 9002),
        (None, 9003, 9005),
        (None, 9004, 9006),
    ]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("127.0.0.1:8080:8081", [("127.0.0.1", 8080, 8081)]),
        ("[::1]:8080:8081", [("::1", 8080, 8081)]),
        ("[::1]:8080", [("::1", 8080, 8080)]),
        ("0.0.0.0:3000", [("0.0.0.0", 3000, 3000)]),
        ("65534-65535", [(None, 65534, 65534), (None, 65535, 65535)]),
        ("1:65535", [(None, 1, 65535)]),
        (" 8000 , 8001 ", [(None, 8000, 8000), (None, 8001, 8001)]),
    ],
)
def test_addresses_and_edges(spec: str, expected: list[tuple[str | None, int, int]]) -> None:
    assert pairs(spec) == expected


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("8000-7000", "ends before it starts"),
        ("8080-8081:9080-9082", "must be as long as each other"),
        ("9000-9002:9000", "must be as long as each other"),
        ("0", "local port 0 is not from 1 to 65535"),
        ("65536", "local port 65536 is not from 1 to 65535"),
        ("8000:0", "remote port 0 is not from 1 to 65535"),
        ("65535-65536", "65536 is not from 1 to 65535"),
        ("localhost:8080", "host names are not accepted"),
        ("example.com:8080:80", "host names are not accepted"),
        ("::1:8080", "too many ':'"),
        ("[::1]8080", "followed by :PORT"),
        ("[nope]:8080", "is not an IPv6 address"),
        ("[127.0.0.1]:8080", "is not an IPv6 address"),
        ("999.1.1.1:8080", "is not an IPv4 address"),
        ("127.0.0.1:8080:8081:8082", "too many ':'"),
        ("80a", "is not a local port number"),
        ("8000-", "is not a local port number"),
        ("8000:", "is not a remote port number"),
        ("", "an empty SPEC"),
        ("8000,,8001", "an empty SPEC"),
        ("٨٠٠٠", "is not a local port number"),
    ],
)
def test_bad_specs_are_named_with_why(spec: str, says: str) -> None:
    with pytest.raises(SpecError) as raised:
        parse_forwards([("tcp", spec)])
    assert says in str(raised.value)
    assert str(raised.value).startswith(f"--tcp {spec}")


def test_a_local_port_twice_is_refused() -> None:
    with pytest.raises(SpecError, match=r"127\.0\.0\.1:8000 \(tcp\) is already forwarded"):
        parse_forwards([("tcp", "8000"), ("tcp", "127.0.0.1:8000:9000")])
    with pytest.raises(SpecError, match="already forwarded"):
        parse_forwards([("tcp", "8000-8002,8001")])
    with pytest.raises(SpecError, match=r"\[::1\]:8000"):
        parse_forwards([("udp", "[::1]:8000"), ("udp", "8000")])


def test_tcp_and_udp_may_share_a_port_and_addresses_may_differ() -> None:
    forwards = parse_forwards([("tcp", "5353"), ("udp", "5353"), ("tcp", "10.0.0.1:5353")])
    assert forwards == [
        PortForward("tcp", None, 5353, 5353),
        PortForward("udp", None, 5353, 5353),
        PortForward("tcp", "10.0.0.1", 5353, 5353),
    ]
    assert forwards[0].addresses == ("127.0.0.1", "::1")


def test_endpoints_put_ipv6_in_brackets() -> None:
    assert endpoint("::1", 80) == "[::1]:80"
    assert endpoint("127.0.0.1", 80) == "127.0.0.1:80"
