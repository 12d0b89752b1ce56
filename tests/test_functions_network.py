"""cidrhost, cidrnetmask, cidrsubnet and cidrsubnets: values and messages as Terraform 1.11's
`terraform console` gave them."""

from __future__ import annotations

import pytest

from templater.engine.values import Unknown, Value

from .conftest import call, error


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("10.12.112.0/20", 16), "10.12.112.16"),
        (("10.12.112.0/20", 268), "10.12.113.12"),
        (("fd00:fd12:3456:7890:00a2::/72", 34), "fd00:fd12:3456:7890::22"),
        (("10.12.112.0/20", -1), "10.12.127.255"),
        (("10.12.112.0/20", 4095), "10.12.127.255"),
        (("10.12.112.0/20", -4096), "10.12.112.0"),
        (("10.12.112.5/20", 1), "10.12.112.1"),
        (("010.12.112.0/20", 1), "10.12.112.1"),
        (("10.0.0.0/8", "3"), "10.0.0.3"),
        # Go places the number after 32 bits for an IPv4-mapped address: Terraform's answer.
        (("::ffff:10.0.0.0/104", 5), "0:5::ffff:a00:0"),
    ],
)
def test_cidrhost(args: tuple[Value, ...], expected: str) -> None:
    assert call("cidrhost", *args) == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("10.12.112.0/20", 4096),
            'Call to function "cidrhost" failed: prefix of 20 does not accommodate a host '
            "numbered 4096",
        ),
        # Terraform names the number it counted back to.
        (("10.12.112.0/20", -4097), "prefix of 20 does not accommodate a host numbered -1"),
        (
            ("10.12.112.0", 1),
            'Call to function "cidrhost" failed: invalid CIDR expression: invalid CIDR address: '
            "10.12.112.0",
        ),
        (("10.12.112.0/33", 1), "invalid CIDR address: 10.12.112.0/33"),
        (("10.1.2.300/24", 1), "invalid CIDR address: 10.1.2.300/24"),
        (("fe80::1%eth0/64", 1), "invalid CIDR address: fe80::1%eth0/64"),
        (("banana", 1), "invalid CIDR address: banana"),
        (
            ("10.12.112.0/20", 1.5),
            'Call to function "cidrhost" failed: value must be a whole number',
        ),
    ],
)
def test_cidrhost_errors(args: tuple[Value, ...], message: str) -> None:
    assert message in error("cidrhost", *args)


def test_cidrnetmask() -> None:
    assert call("cidrnetmask", "172.16.0.0/12") == "255.240.0.0"
    assert call("cidrnetmask", "10.0.0.0/0") == "0.0.0.0"
    assert call("cidrnetmask", "10.0.0.0/32") == "255.255.255.255"
    assert call("cidrnetmask", "::ffff:10.0.0.0/104") == "ffff:ffff:ffff:ffff:ffff:ffff:ff00:0"
    assert error("cidrnetmask", "fd00::/64") == (
        'Call to function "cidrnetmask" failed: IPv6 addresses cannot have a netmask: fd00::/64'
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("172.16.0.0/12", 4, 2), "172.18.0.0/16"),
        (("10.1.2.0/24", 4, 15), "10.1.2.240/28"),
        (("fd00:fd12:3456:7890::/56", 16, 162), "fd00:fd12:3456:7800:a200::/72"),
        (("10.1.2.0/24", 0, 0), "10.1.2.0/24"),
        (("10.1.2.5/24", 2, 1), "10.1.2.64/26"),
        (("fd00::/8", 64, 5), "fd00::500:0:0:0/72"),
        (("fd00::/8", 33, 5), "fd00:0:280::/41"),
        (("::ffff:10.0.0.0/104", 8, 3), "10.3.0.0/16"),
        # Terraform does not refuse negative numbers; these are its answers.
        (("10.1.2.0/24", -1, 0), "10.1.2.0/23"),
        (("10.1.2.0/24", 4, -1), "0.0.0.16/28"),
        (("10.1.2.0/24", -25, 0), "<nil>"),
    ],
)
def test_cidrsubnet(args: tuple[Value, ...], expected: str) -> None:
    assert call("cidrsubnet", *args) == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("10.1.2.0/24", 4, 16),
            'Call to function "cidrsubnet" failed: prefix extension of 4 does not accommodate a '
            "subnet numbered 16",
        ),
        (("10.1.2.0/24", 0, 1), "prefix extension of 0 does not accommodate a subnet numbered 1"),
        (("10.1.2.0/24", 9, 0), "insufficient address space to extend prefix of 24 by 9"),
        (
            ("10.1.2.0/24", 1.5, 0),
            "value must be a whole number, between -9223372036854775808 and 9223372036854775807",
        ),
        (
            ("10.1.2.0/24", 1, 0.5),
            'Call to function "cidrsubnet" failed: value must be a whole number',
        ),
        (("10.1.2.0", 1, 0), "invalid CIDR expression: invalid CIDR address: 10.1.2.0"),
    ],
)
def test_cidrsubnet_errors(args: tuple[Value, ...], message: str) -> None:
    assert message in error("cidrsubnet", *args)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("10.1.0.0/16", 4, 4, 8, 4),
            ["10.1.0.0/20", "10.1.16.0/20", "10.1.32.0/24", "10.1.48.0/20"],
        ),
        (
            ("fd00:fd12:3456:7890::/56", 16, 16, 16, 32),
            [
                "fd00:fd12:3456:7800::/72",
                "fd00:fd12:3456:7800:100::/72",
                "fd00:fd12:3456:7800:200::/72",
                "fd00:fd12:3456:7800:300::/88",
            ],
        ),
        (("10.1.0.0/16",), []),
        (("10.1.0.5/24", 2), ["10.1.0.0/26"]),
        (("255.255.255.0/24", 1, 1), ["255.255.255.0/25", "255.255.255.128/25"]),
    ],
)
def test_cidrsubnets(args: tuple[Value, ...], expected: list[str]) -> None:
    assert call("cidrsubnets", *args) == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("10.1.0.0/16", 0),
            'Invalid value for "newbits" parameter: must extend prefix by at least one bit',
        ),
        (("10.1.0.0/16", 33), "may not extend prefix by more than 32 bits"),
        (
            ("10.1.0.0/24", 9),
            "would extend prefix to 33 bits, which is too long for an IPv4 address",
        ),
        (
            ("fd00::/120", 9),
            "would extend prefix to 129 bits, which is too long for an IPv6 address",
        ),
        (
            ("10.1.0.0/24", 1, 1, 1),
            "not enough remaining address space for a subnet with a prefix of 25 bits after "
            "10.1.0.128/25",
        ),
        (
            ("10.1.0.0/24", 2, 1, 2),
            "not enough remaining address space for a subnet with a prefix of 26 bits after "
            "10.1.0.128/25",
        ),
        # Terraform starts below the prefix, which wraps around at address zero.
        (
            ("0.0.0.0/8", 4),
            "not enough remaining address space for a subnet with a prefix of 12 bits after "
            "255.240.0.0/12",
        ),
        (
            ("::ffff:10.0.0.0/104", 8, 8),
            "not enough remaining address space for a subnet with a prefix of 112 bits after <nil>",
        ),
        (
            ("10.1.0.0/24", 1.5),
            'Invalid value for "newbits" parameter: value must be a whole number',
        ),
        (
            ("10.1.0.0", 2),
            'Invalid value for "prefix" parameter: invalid CIDR expression: invalid CIDR address: '
            "10.1.0.0",
        ),
    ],
)
def test_cidrsubnets_errors(args: tuple[Value, ...], message: str) -> None:
    assert message in error("cidrsubnets", *args)


def test_unknown_arguments_give_unknown_addresses() -> None:
    assert isinstance(call("cidrhost", Unknown("var.cidr"), 1), Unknown)
    assert isinstance(call("cidrsubnets", "10.0.0.0/16", 4, Unknown()), Unknown)
