"""What ``templater port-forward --tcp SPEC --udp SPEC`` asks for (SPEC §9), read from its
arguments: ``[LOCAL_IP:]LPORT[-LEND][:RPORT[-REND]]``, comma-separated and repeatable; IPv6 in
brackets, IPv4 dotted, never a host name. The remote port defaults to the local one; ranges
pair up port by port and must be as long as each other.

Pure: nothing here binds or dials."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

PROTOCOLS = ("tcp", "udp")
DEFAULT_ADDRESSES = ("127.0.0.1", "::1")
"""Where a SPEC without an address listens: IPv4's loopback, and IPv6's where it can."""


class SpecError(ValueError):
    """A SPEC that does not say what to forward; the message names it and says why."""


@dataclass(frozen=True, slots=True)
class PortForward:
    """One local port forwarded to one port in the workspace. ``address`` is None for the
    default ones (DEFAULT_ADDRESSES)."""

    protocol: str
    address: str | None
    local_port: int
    remote_port: int

    @property
    def addresses(self) -> tuple[str, ...]:
        return DEFAULT_ADDRESSES if self.address is None else (self.address,)


def endpoint(address: str, port: int) -> str:
    """``address:port`` as a person writes it: an IPv6 address in brackets."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def parse_forwards(specs: Iterable[tuple[str, str]]) -> list[PortForward]:
    """Every forward that ``(protocol, SPEC)`` pairs ask for, in order. Raises SpecError for a
    SPEC that is not one, or that asks for a local (protocol, address, port) already taken."""
    forwards: list[PortForward] = []
    taken: dict[tuple[str, str, int], str] = {}
    for protocol, spec in specs:
        for item in spec.split(","):
            for forward in _parse_item(protocol, item.strip(), spec):
                for address in forward.addresses:
                    key = (protocol, address, forward.local_port)
                    if key in taken:
                        raise SpecError(
                            f"--{protocol} {spec}: local port {endpoint(address, key[2])} "
                            f"({protocol}) is already forwarded by --{protocol} {taken[key]}"
                        )
                    taken[key] = spec
                forwards.append(forward)
    return forwards


def _parse_item(protocol: str, item: str, spec: str) -> list[PortForward]:
    where = f"--{protocol} {spec or repr(spec)}"
    if item != spec:
        where += f" (in {item!r})"
    if protocol not in PROTOCOLS:
        raise SpecError(f"{where}: the protocol must be tcp or udp")
    if not item:
        raise SpecError(f"{where}: an empty SPEC; give [LOCAL_IP:]LPORT[-LEND][:RPORT[-REND]]")
    if item.count(":") > 2 and not item.startswith("["):
        raise SpecError(
            f"{where}: too many ':' (an IPv6 address goes in brackets: [::1]:8080:8081)"
        )
    address, ports = _split_address(item, where)
    local, colon, remote = ports.partition(":")
    if ":" in remote:
        raise SpecError(f"{where}: too many ':'")
    local_ports = _port_range(local, where, "local")
    remote_ports = _port_range(remote, where, "remote") if colon else local_ports
    if len(remote_ports) != len(local_ports):
        raise SpecError(
            f"{where}: the local range has {len(local_ports)} ports and the remote one "
            f"{len(remote_ports)}; they must be as long as each other"
        )
    return [
        PortForward(protocol, address, lport, rport)
        for lport, rport in zip(local_ports, remote_ports, strict=True)
    ]


def _split_address(item: str, where: str) -> tuple[str | None, str]:
    """The local address ``item`` names (None for the default ones), and the ports after it."""
    if item.startswith("["):
        inside, bracket, rest = item[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            raise SpecError(f"{where}: an IPv6 address in brackets is followed by :PORT")
        try:
            return str(ipaddress.IPv6Address(inside)), rest[1:]
        except ValueError:
            raise SpecError(f"{where}: {inside!r} is not an IPv6 address") from None
    first, colon, rest = item.partition(":")
    if not colon or _is_port_range(first):
        return None, item
    if not first.replace(".", "").isdigit():
        raise SpecError(
            f"{where}: {first!r} is not an IP address (host names are not accepted; "
            "use 127.0.0.1 or [::1])"
        )
    try:
        return str(ipaddress.IPv4Address(first)), rest
    except ValueError:
        raise SpecError(f"{where}: {first!r} is not an IPv4 address") from None


def _is_port_range(text: str) -> bool:
    return text.replace("-", "", 1).isdigit()


def _port_range(text: str, where: str, side: str) -> range:
    start_text, dash, end_text = text.partition("-")
    start = _port(start_text, where, side)
    if not dash:
        return range(start, start + 1)
    end = _port(end_text, where, side)
    if end < start:
        raise SpecError(f"{where}: the {side} range {text} ends before it starts")
    return range(start, end + 1)


def _port(text: str, where: str, side: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise SpecError(f"{where}: {text!r} is not a {side} port number")
    port = int(text)
    if not 1 <= port <= 65535:
        raise SpecError(f"{where}: {side} port {port} is not from 1 to 65535")
    return port
