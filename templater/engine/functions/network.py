"""IP network functions: cidrhost, cidrnetmask, cidrsubnet and cidrsubnets.

Addresses are modelled as Go's net package holds them, since Terraform's answers follow from
that: an IPv4 prefix is 4 bytes, an IPv6 one 16 (an IPv4-mapped IPv6 address too, which then
prints as IPv4), and the address of a prefix is kept as written, masked, with no other checks.
IPv4 octets may have leading zeros and are then decimal, as Terraform's parser reads them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from templater.engine.functions.library import (
    Failure,
    FunctionContext,
    Param,
    as_number,
    as_string,
    go_whole,
    register,
)
from templater.engine.values import Number

_V4_IN_V6 = bytes(10) + b"\xff\xff"
_MAX_UINT64 = 2**64 - 1


@dataclass(frozen=True, slots=True)
class _Network:
    """An address and its prefix length; ``width`` is the bits of the address (32 or 128)."""

    address: int
    prefix: int
    width: int

    @property
    def mapped(self) -> bool:
        """An IPv4-mapped IPv6 address (::ffff:a.b.c.d), which Go treats as IPv4 in places."""
        return self.width == 128 and self.address >> 32 == 0xFFFF


def _parse_cidr(text: str) -> _Network:
    address, slash, length = text.partition("/")
    width = 32
    parsed = _parse_ipv4(address)
    if parsed is None:
        width = 128
        parsed = _parse_ipv6(address)
    if parsed is None or not slash or not _is_decimal(length) or int(length) > width:
        raise Failure(f"invalid CIDR expression: invalid CIDR address: {text}")
    prefix = int(length)
    return _Network(parsed & _mask(prefix, width), prefix, width)


def _is_decimal(text: str) -> bool:
    return text != "" and text.isascii() and text.isdigit()


def _parse_ipv4(text: str) -> int | None:
    parts = text.split(".")
    if len(parts) != 4 or not all(_is_decimal(part) and int(part) <= 255 for part in parts):
        return None
    value = 0
    for part in parts:
        value = value << 8 | int(part)
    return value


def _parse_ipv6(text: str) -> int | None:
    if "%" in text or ":" not in text:
        return None  # a zone is not part of a CIDR address
    try:
        return int(ipaddress.IPv6Address(text))
    except ValueError:
        return None


def _mask(prefix: int, width: int) -> int:
    return ((1 << prefix) - 1) << (width - prefix) if 0 <= prefix <= width else 0


def _address_text(value: int, width: int) -> str:
    """An address as Go prints it: IPv4 dotted (a mapped IPv6 address too), IPv6 in the
    RFC 5952 form, the first longest run of two or more zero groups as "::"."""
    if width == 32 or value >> 32 == 0xFFFF:
        return ".".join(str(value >> shift & 0xFF) for shift in (24, 16, 8, 0))
    groups = [value >> shift & 0xFFFF for shift in range(112, -1, -16)]
    best_start, best_length = -1, 1
    start = 0
    while start < 8:
        end = start
        while end < 8 and groups[end] == 0:
            end += 1
        if end - start > best_length:
            best_start, best_length = start, end - start
        start = max(end, start + 1)
    words = [f"{group:x}" for group in groups]
    if best_start < 0:
        return ":".join(words)
    head = ":".join(words[:best_start])
    tail = ":".join(words[best_start + best_length :])
    return f"{head}::{tail}"


def _network_text(address: int, prefix: int, width: int) -> str:
    """A network as Go's IPNet prints it; a mapped address shows its IPv4 part and what of the
    mask falls on it, and a mask Go could not make (a negative length) prints as "<nil>"."""
    if prefix < 0:
        return "<nil>"
    if width == 128 and address >> 32 == 0xFFFF:
        return f"{_address_text(address, 32)}/{max(prefix - 96, 0)}"
    return f"{_address_text(address, width)}/{prefix}"


def _insert(network: _Network, number: int, prefix: int) -> int:
    """``number`` placed in the bits after ``prefix``, as Go's big.Int arithmetic places it (a
    negative number ORs in as two's complement, then only its magnitude is kept)."""
    combined = network.address | number << (network.width - prefix)
    return abs(combined) & ((1 << network.width) - 1)


@register("cidrhost", Param("prefix", as_string), Param("hostnum", as_number))
def _cidrhost(ctx: FunctionContext, prefix: str, hostnum: Number) -> str:
    number = go_whole(hostnum, int64=False)
    network = _parse_cidr(prefix)
    largest = (1 << (network.width - network.prefix)) - 1
    magnitude = number
    if number < 0:
        # Counted back from the end: -1 is the last address.
        magnitude = -number - 1
        number = largest - magnitude
    if magnitude > largest:
        raise Failure(f"prefix of {network.prefix} does not accommodate a host numbered {number}")
    # Go places the host number after 32 bits for any address it sees as IPv4, so a mapped
    # IPv6 prefix gets it far to the left.
    ipv4 = network.width == 32 or network.mapped
    return _address_text(_insert(network, number, 32 if ipv4 else 128), network.width)


@register("cidrnetmask", Param("prefix", as_string))
def _cidrnetmask(ctx: FunctionContext, prefix: str) -> str:
    network = _parse_cidr(prefix)
    if network.width == 128 and not network.mapped:
        raise Failure(f"IPv6 addresses cannot have a netmask: {prefix}")
    return _address_text(_mask(network.prefix, network.width), network.width)


@register(
    "cidrsubnet",
    Param("prefix", as_string),
    Param("newbits", as_number),
    Param("netnum", as_number),
)
def _cidrsubnet(ctx: FunctionContext, prefix: str, newbits: Number, netnum: Number) -> str:
    extension = go_whole(newbits)
    number = go_whole(netnum, int64=False)
    network = _parse_cidr(prefix)
    length = network.prefix + extension
    if length > network.width:
        raise Failure(
            f"insufficient address space to extend prefix of {network.prefix} by {extension}"
        )
    largest = _MAX_UINT64 if not 0 <= extension < 64 else (1 << extension) - 1
    if abs(number) & _MAX_UINT64 > largest or abs(number) > _MAX_UINT64:
        raise Failure(
            f"prefix extension of {extension} does not accommodate a subnet numbered {number}"
        )
    return _network_text(_insert(network, number, length), length, network.width)


@register("cidrsubnets", Param("prefix", as_string), Param("newbits", as_number), variadic=True)
def _cidrsubnets(ctx: FunctionContext, prefix: str, *newbits: Number) -> list[str]:
    try:
        network = _parse_cidr(prefix)
    except Failure as failure:
        raise Failure(failure.message, arg=0) from None
    subnets: list[str] = []
    # Each subnet starts right after the end of the previous one, aligned to its own size.
    end = network.address  # the first address after the previous subnet
    for index, bits in enumerate(newbits, start=1):
        try:
            extension = go_whole(bits)
        except Failure as failure:
            raise Failure(failure.message, arg=index) from None
        if extension < 1:
            raise Failure("must extend prefix by at least one bit", arg=index)
        if extension > 32:
            raise Failure("may not extend prefix by more than 32 bits", arg=index)
        length = network.prefix + extension
        if length > network.width:
            family = "IPv4" if network.width == 32 else "IPv6"
            raise Failure(
                f"would extend prefix to {length} bits, which is too long for an {family} address",
                arg=index,
            )
        size = 1 << (network.width - length)
        start = -(-end // size) * size
        past_the_end = start + size > network.address + (1 << (network.width - network.prefix))
        # Terraform counts from the subnet just below the prefix, which wraps around for a
        # prefix at address zero, and fails there; it always fails for a mapped address.
        if past_the_end or network.mapped or network.address == 0:
            raise Failure(
                f"not enough remaining address space for a subnet with a prefix of {length} "
                f"bits after {_previous_text(network, subnets, length)}",
                arg=index,
            )
        subnets.append(_network_text(start, length, network.width))
        end = start + size
    return subnets


def _previous_text(network: _Network, subnets: list[str], length: int) -> str:
    """The subnet Terraform names in its message: the last one made or, before the first, the
    one of that length just below the prefix."""
    if subnets:
        return subnets[-1]
    if network.mapped:
        return "<nil>"
    size = 1 << (network.width - length)
    below = (network.address - 1) % (1 << network.width)
    return _network_text(below - below % size, length, network.width)
