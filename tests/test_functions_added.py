"""The functions added to match Terraform 1.11's list: setproduct, timecmp, plantimestamp, uuidv5,
bcrypt, rsadecrypt, issensitive and ephemeralasnull, with the values and messages that
`terraform console` gave for them."""

from __future__ import annotations

from pathlib import Path

import pytest

from templater.engine.functions import FunctionContext, call_function
from templater.engine.values import EvalError, Unknown, Value

from .conftest import Evaluate, call, error, resource

# --- templatestring ------------------------------------------------------------------------------

AGENT = 'resource "coder_agent" "dev" {\n  arch = "amd64"\n  os = "linux"\n}\n'


def _app_url(evaluate_files: Evaluate, locals_body: str) -> tuple[Value, list[str]]:
    """The url of an app set to local.v, and the evaluation's error messages."""
    evaluation = evaluate_files(
        {
            "main.tf": AGENT
            + f"locals {{\n{locals_body}\n}}\n"
            + 'resource "coder_app" "a" {\n  agent_id = coder_agent.dev.id\n  slug = "a"\n'
            + "  url = local.v\n}\n"
        }
    )
    found = [d.message for d in evaluation.diagnostics if d.severity.value == "error"]
    return resource(evaluation, "coder_app.a").attributes["url"].value, found


def test_templatestring_renders_through_the_evaluator(evaluate_files: Evaluate) -> None:
    url, found = _app_url(
        evaluate_files,
        '  t = "http://$${host}:%%{ for p in ports }$${p}%%{ endfor }"\n'
        '  v = templatestring(local.t, { host = "localhost", ports = [80, 80] })',
    )
    assert (url, found) == ("http://localhost:8080", [])


def test_templatestring_reports_a_missing_variable(evaluate_files: Evaluate) -> None:
    _, found = _app_url(evaluate_files, '  t = "$${nope}"\n  v = templatestring(local.t, {})')
    assert found == ['there is no variable named "nope"']


def test_templatestring_arguments() -> None:
    seen: list[tuple[str, dict[str, Value], str]] = []

    def render(text: str, variables: dict[str, Value], file_name: str) -> Value:
        seen.append((text, variables, file_name))
        return variables.get("result", "rendered")

    ctx = FunctionContext(Path("/module"), render)

    def run(*args: Value) -> Value:
        return call_function("templatestring", list(args), ctx)

    assert run("Hello ${name}", {"name": "x"}) == "rendered"
    assert seen == [("Hello ${name}", {"name": "x"}, "/module/<templatestring argument>")]
    assert run("${n}", {"result": 5}) == "5"
    assert isinstance(run(Unknown(), {}), Unknown)
    assert isinstance(run("x", Unknown()), Unknown)
    with pytest.raises(EvalError, match="invalid template result: string required"):
        run("${l}", {"result": [1]})
    with pytest.raises(EvalError, match="invalid template value: a string is required"):
        run(5, {})
    with pytest.raises(EvalError, match='"vars" parameter: invalid vars value: must be a map'):
        run("x", [1])
    with pytest.raises(EvalError, match='invalid template variable name "1x"'):
        run("x", {"1x": 1})
    with pytest.raises(EvalError, match="argument must not be null"):
        run("x", None)


# --- setproduct ----------------------------------------------------------------------------------


def test_setproduct() -> None:
    assert call("setproduct", ["development", "staging"], ["app1", "app2"]) == [
        ["development", "app1"],
        ["development", "app2"],
        ["staging", "app1"],
        ["staging", "app2"],
    ]
    assert call("setproduct", ["a"], []) == []
    assert call("setproduct", ["a", "a"], ["x"]) == [["a", "x"], ["a", "x"]]
    # Each argument becomes a list of one element type first.
    assert call("setproduct", ["a", 1], [True]) == [["a", True], ["1", True]]
    assert call("setproduct", [{"a": 1}], ["x"]) == [[{"a": 1}, "x"]]
    assert call("setproduct", ["a", "b"], [1], ["x", "y"]) == [
        ["a", 1, "x"],
        ["a", 1, "y"],
        ["b", 1, "x"],
        ["b", 1, "y"],
    ]


def test_setproduct_errors_and_unknowns() -> None:
    assert error("setproduct", ["a"]) == (
        'Call to function "setproduct" failed: at least two arguments are required'
    )
    assert "at least two arguments are required" in error("setproduct")
    assert error("setproduct", "a", ["x"]) == (
        'Invalid value for "sets" parameter: a set or a list is required'
    )
    assert "a set or a list is required" in error("setproduct", {"a": 1}, ["x"])
    assert "argument must not be null" in error("setproduct", ["a"], None)
    agent = Unknown("coder_agent.dev.id")
    assert call("setproduct", ["a", agent], ["x"]) == [["a", "x"], [agent, "x"]]
    assert isinstance(call("setproduct", Unknown(), ["x"]), Unknown)


# --- time ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("2017-11-22T00:00:00Z", "2017-11-22T00:00:00Z", 0),
        ("2017-11-22T00:00:00Z", "2017-11-22T01:00:00Z", -1),
        ("2017-11-22T01:00:00Z", "2017-11-22T00:00:00Z", 1),
        ("2017-11-22T01:00:00Z", "2017-11-22T00:00:00-01:00", 0),
        ("2017-11-22T00:00:00Z", "2017-11-22T00:00:00+00:00", 0),
        ("2017-11-22T00:00:00.5Z", "2017-11-22T00:00:00.4Z", 1),
    ],
)
def test_timecmp(first: str, second: str, expected: int) -> None:
    assert call("timecmp", first, second) == expected


def test_timecmp_errors_name_the_argument() -> None:
    assert error("timecmp", "2017-11-22", "2017-11-22T00:00:00Z").startswith(
        'Invalid value for "timestamp_a" parameter: not a valid RFC3339 timestamp'
    )
    assert error("timecmp", "2017-11-22T00:00:00Z", "x").startswith(
        'Invalid value for "timestamp_b" parameter: not a valid RFC3339 timestamp'
    )


# Terraform's words for timestamps that do not parse: timecmp reads them as Go's time.Parse does,
# timeadd and formatdate as cty's stricter RFC 3339 reader does.
@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("timecmp", ("x", "2017-11-22T00:00:00Z"), 'cannot use "x" as year'),
        ("timecmp", ("", "x"), "end of string before year"),
        ("timecmp", ("2017", "x"), 'end of string where "-" is expected'),
        ("timecmp", ("2017-1", "x"), 'cannot use "1" as month'),
        ("timecmp", ("17-11-22T00:00:00Z", "x"), 'cannot use "17-11-22T00:00:00Z" as year'),
        ("timecmp", ("2017-13-01T00:00:00Z", "x"), 'cannot use "-01T00:00:00Z" as month'),
        ("timecmp", ("2017-11-22T25:00:00Z", "x"), 'cannot use ":00:00Z" as hour'),
        ("timecmp", ("2017-11-22T00:00:60Z", "x"), 'cannot use "Z" as second'),
        ("timecmp", ("2017-11-22T00:00Z", "x"), 'found "Z" where ":" is expected'),
        ("timecmp", ("2017-11-22 00:00:00Z", "x"), "missing required time introducer 'T'"),
        ("timecmp", ("2017-11-22T00:00:00", "x"), "end of string before UTC offset"),
        ("timecmp", ("2017-11-22T00:00:00+0100", "x"), 'cannot use "+0100" as UTC offset'),
        ("timecmp", ("2017-11-22T00:00:00.Z", "x"), 'cannot use ".Z" as UTC offset'),
        ("timecmp", ("2017-11-22T01:00:00+25:00", "x"), "end of string before UTC offset"),
        ("timecmp", ("2017-11-22T00:00:00Zjunk", "x"), 'cannot use "junk" as timestamp segment'),
        (
            "timecmp",
            ("2017-11-31T00:00:00Z", "x"),
            "not a valid RFC3339 timestamp: day out of range",
        ),
        ("timecmp", ("2017-02-29T00:00:00Z", "x"), "day out of range"),
        ("timeadd", ("2017-11-22T1:00:00Z", "1h"), "hour must have exactly two digits"),
        ("timeadd", ("2017-11-22T01:0:00Z", "1h"), "minute must have exactly two digits"),
        ("timeadd", ("2017-11-22T25:00:00Z", "1h"), "hour must be between 0 and 23 inclusive"),
        ("timeadd", ("2017-11-22T01:00:00,5Z", "1h"), 'cannot use "," as timestamp segment'),
        ("timeadd", ("2017-11-22T01:00:00+24:00", "1h"), 'cannot use "+24:00" as UTC offset'),
        ("timeadd", ("2017-11-22T01:00:00+23:60", "1h"), 'cannot use "+23:60" as UTC offset'),
        ("timeadd", ("2017-11-22T00:00:00Z", ""), 'time: invalid duration ""'),
        ("timeadd", ("2017-11-22T00:00:00Z", ".h"), 'time: invalid duration ".h"'),
        ("timeadd", ("2017-11-22T00:00:00Z", "1"), 'time: missing unit in duration "1"'),
        ("timeadd", ("2017-11-22T00:00:00Z", "1h 30m"), 'time: unknown unit "h " in duration'),
        (
            "formatdate",
            ("YYYY", "2017-11-22T1:00:00Z"),
            'Invalid value for "time" parameter: not a valid RFC3339 timestamp: hour must have '
            "exactly two digits",
        ),
    ],
)
def test_timestamp_errors(name: str, args: tuple[Value, ...], message: str) -> None:
    found = error(name, *args)
    assert message in found
    if name == "timecmp":
        assert found.startswith('Invalid value for "timestamp_a" parameter: ')
    if name == "timeadd":
        assert found.startswith('Call to function "timeadd" failed: ')


def test_timecmp_takes_what_go_takes() -> None:
    # Go's time.Parse is laxer than RFC 3339, and so is Terraform's timecmp.
    assert call("timecmp", "2017-11-22T1:00:00Z", "2017-11-22T01:00:00Z") == 0
    assert call("timecmp", "2017-11-22T01:00:00,5Z", "2017-11-22T01:00:00Z") == 1
    assert call("timecmp", "2017-11-22T01:00:00+24:00", "2017-11-22T01:00:00Z") == -1
    assert call("timeadd", "2017-11-22T00:00:00Z", "1.h") == "2017-11-22T01:00:00Z"
    assert call("timeadd", "2017-11-22T00:00:00Z", "+5m") == "2017-11-22T00:05:00Z"
    assert call("timeadd", "2017-11-22T00:00:00Z", "-1h30m") == "2017-11-21T22:30:00Z"


def test_plantimestamp_is_unknown() -> None:
    # Known while Terraform plans, but different on every run.
    assert isinstance(call("plantimestamp"), Unknown)
    assert "expects only 0 argument(s)" in error("plantimestamp", 1)


# --- uuidv5 --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("namespace", "name", "expected"),
    [
        ("dns", "www.terraform.io", "a5008fae-b28c-5ba5-96cd-82b4c53552d6"),
        ("url", "https://www.terraform.io/", "9db6f67c-dd95-5ea0-aa5b-e70e5c5f7cf5"),
        ("oid", "1.2.3", "42d5e23b-3a02-5135-85c6-52d1102f1f00"),
        ("x500", "cn=x", "a951fb6d-5aab-5a72-8e2e-9aa8df8d1f8f"),
        (
            "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
            "www.terraform.io",
            "a5008fae-b28c-5ba5-96cd-82b4c53552d6",
        ),
        ("6BA7B810-9DAD-11D1-80B4-00C04FD430C8", "x", "05b16a01-46c6-56dd-bd6e-c6dfb4a1427a"),
        ("{6ba7b810-9dad-11d1-80b4-00c04fd430c8}", "x", "05b16a01-46c6-56dd-bd6e-c6dfb4a1427a"),
        ("[6ba7b810-9dad-11d1-80b4-00c04fd430c8]", "x", "05b16a01-46c6-56dd-bd6e-c6dfb4a1427a"),
        (
            "URN:UUID:6ba7b810-9dad-11d1-80b4-00c04fd430c8",
            "x",
            "05b16a01-46c6-56dd-bd6e-c6dfb4a1427a",
        ),
        ("6ba7b8109dad11d180b400c04fd430c8", "x", "05b16a01-46c6-56dd-bd6e-c6dfb4a1427a"),
        ("dns", "", "4ebd0208-8328-5d69-8c44-ec50939c0967"),
        ("dns", "é", "ebfe0af8-3997-5ade-b634-ba92cf69f557"),
    ],
)
def test_uuidv5(namespace: str, name: str, expected: str) -> None:
    assert call("uuidv5", namespace, name) == expected


@pytest.mark.parametrize(
    ("namespace", "reason"),
    [
        ("nope", "invalid UUID length: 4"),
        ("DNS", "invalid UUID length: 3"),
        ("6ba7b810-9dad-11d1-80b4-00c04fd430cg", "invalid UUID format"),
        ("6ba7b810x9dad-11d1-80b4-00c04fd430c8", "invalid UUID format"),
        ("urn:uuix:6ba7b810-9dad-11d1-80b4-00c04fd430c8", 'invalid urn prefix: "urn:uuix:"'),
    ],
)
def test_uuidv5_errors(namespace: str, reason: str) -> None:
    assert error("uuidv5", namespace, "x") == (
        f'Call to function "uuidv5" failed: uuidv5() doesn\'t support namespace {namespace} '
        f"({reason})"
    )


# --- bcrypt --------------------------------------------------------------------------------------


def test_bcrypt_is_unknown_but_checks_its_arguments() -> None:
    # Its salt is random: Terraform's hash is new on every run.
    assert isinstance(call("bcrypt", "x"), Unknown)
    assert isinstance(call("bcrypt", "x", 3), Unknown)  # below 4: the default cost
    assert isinstance(call("bcrypt", "x", -1), Unknown)
    assert error("bcrypt", "x", 32) == (
        'Call to function "bcrypt" failed: error occured generating password crypto/bcrypt: '
        "cost 32 is outside allowed range (4,31)"
    )
    assert error("bcrypt", "x", 1.5) == (
        'Call to function "bcrypt" failed: value must be a whole number, between '
        "-9223372036854775808 and 9223372036854775807"
    )
    assert error("bcrypt", "x", 4, 5) == (
        'Call to function "bcrypt" failed: bcrypt() takes no more than two arguments'
    )
    assert error("bcrypt", "x" * 73) == (
        'Call to function "bcrypt" failed: error occured generating password bcrypt: password '
        "length exceeds 72 bytes"
    )


# --- rsadecrypt ----------------------------------------------------------------------------------
# A throwaway 1024-bit test key in the three formats Terraform reads, and "Hello, rsadecrypt!"
# encrypted to it with PKCS #1 v1.5 padding (by openssl).

PKCS1_KEY = """\
-----BEGIN RSA PRIVATE KEY-----
MIICXAIBAAKBgQClEwtsYtM7kfyM38QxH7IsrFx3RBsLGZgFwTfVCQ8hwl68xdGz
/QxDyLdCuKXNkPHhqy/LWlOYKdWqwAzchNtuZSFI3Q5UWH4yrTeH7zoATZuZSCd7
Y29x3gxCfgp1fSNBMPkEMeyisLjBVdYPot6hy717H6pJAO8hVAuFmI5XYwIDAQAB
AoGAVRHhezPaxAJR8o+G3gIFonwZEuWoQioobB7NFR6cC7vNct9HWMh5v5z6xIm/
+JZP8Qp1kQi1t98nW92pQyO8qO3OIoBfsz16IXPyzOD5LSXmfIMWx5Qf3YFEjcKc
Zj7iugirnYCU7a3m3VZveMs/C5MtbBxsMu4honvD+uD1uCECQQDRbwer7Xe8ILxI
gBYJXdiTi5ht/ugdOVMwyONNEEWflHee8E7Fu92SBIVmvRFGI/y/z0rAQR4lrrJV
IiZLp24ZAkEAyccU5EhqgsPrSdYyjDSrzd0cBXmNgbtvorYuywcgdB2NrfILNZE2
nQ4bHmeSVFy5jkublR5vfx9hieBFiYFo2wJBAMqXgPBLUlvlvrzTSn3dDjgL/XPJ
9XbvkQ3MBjTx3Ke10tEo3MpiJL+vJ+xuUFttTH2vZDv9wc/p4hCAbFMar2ECQDgf
xOLedanbvvVxu+udtu/zAZlQPxkHvrx+ejOEzvUdR0xL1+xVcOBsjQR/AIewpvg6
dZMbvR2Z5/KGzDC8KyMCQDkBCbbEIaGqHq7UE+1+fa/SE0hW/FRTQn8u/nErEHig
2cuvrH2CY5zHlxSf3aFyqZG8P5LQN1uBs2xug97vogU=
-----END RSA PRIVATE KEY-----
"""

PKCS8_KEY = """\
-----BEGIN PRIVATE KEY-----
MIICdgIBADANBgkqhkiG9w0BAQEFAASCAmAwggJcAgEAAoGBAKUTC2xi0zuR/Izf
xDEfsiysXHdEGwsZmAXBN9UJDyHCXrzF0bP9DEPIt0K4pc2Q8eGrL8taU5gp1arA
DNyE225lIUjdDlRYfjKtN4fvOgBNm5lIJ3tjb3HeDEJ+CnV9I0Ew+QQx7KKwuMFV
1g+i3qHLvXsfqkkA7yFUC4WYjldjAgMBAAECgYBVEeF7M9rEAlHyj4beAgWifBkS
5ahCKihsHs0VHpwLu81y30dYyHm/nPrEib/4lk/xCnWRCLW33ydb3alDI7yo7c4i
gF+zPXohc/LM4PktJeZ8gxbHlB/dgUSNwpxmPuK6CKudgJTtrebdVm94yz8Lky1s
HGwy7iGie8P64PW4IQJBANFvB6vtd7wgvEiAFgld2JOLmG3+6B05UzDI400QRZ+U
d57wTsW73ZIEhWa9EUYj/L/PSsBBHiWuslUiJkunbhkCQQDJxxTkSGqCw+tJ1jKM
NKvN3RwFeY2Bu2+iti7LByB0HY2t8gs1kTadDhseZ5JUXLmOS5uVHm9/H2GJ4EWJ
gWjbAkEAypeA8EtSW+W+vNNKfd0OOAv9c8n1du+RDcwGNPHcp7XS0SjcymIkv68n
7G5QW21Mfa9kO/3Bz+niEIBsUxqvYQJAOB/E4t51qdu+9XG765227/MBmVA/GQe+
vH56M4TO9R1HTEvX7FVw4GyNBH8Ah7Cm+Dp1kxu9HZnn8obMMLwrIwJAOQEJtsQh
oaoertQT7X59r9ITSFb8VFNCfy7+cSsQeKDZy6+sfYJjnMeXFJ/doXKpkbw/ktA3
W4GzbG6D3u+iBQ==
-----END PRIVATE KEY-----
"""

OPENSSH_KEY = """\
-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAlwAAAAdzc2gtcn
NhAAAAAwEAAQAAAIEApRMLbGLTO5H8jN/EMR+yLKxcd0QbCxmYBcE31QkPIcJevMXRs/0M
Q8i3QrilzZDx4asvy1pTmCnVqsAM3ITbbmUhSN0OVFh+Mq03h+86AE2bmUgne2Nvcd4MQn
4KdX0jQTD5BDHsorC4wVXWD6Leocu9ex+qSQDvIVQLhZiOV2MAAAH4L9bTwy/W08MAAAAH
c3NoLXJzYQAAAIEApRMLbGLTO5H8jN/EMR+yLKxcd0QbCxmYBcE31QkPIcJevMXRs/0MQ8
i3QrilzZDx4asvy1pTmCnVqsAM3ITbbmUhSN0OVFh+Mq03h+86AE2bmUgne2Nvcd4MQn4K
dX0jQTD5BDHsorC4wVXWD6Leocu9ex+qSQDvIVQLhZiOV2MAAAADAQABAAAAgFUR4Xsz2s
QCUfKPht4CBaJ8GRLlqEIqKGwezRUenAu7zXLfR1jIeb+c+sSJv/iWT/EKdZEItbffJ1vd
qUMjvKjtziKAX7M9eiFz8szg+S0l5nyDFseUH92BRI3CnGY+4roIq52AlO2t5t1Wb3jLPw
uTLWwcbDLuIaJ7w/rg9bghAAAAQDkBCbbEIaGqHq7UE+1+fa/SE0hW/FRTQn8u/nErEHig
2cuvrH2CY5zHlxSf3aFyqZG8P5LQN1uBs2xug97vogUAAABBANFvB6vtd7wgvEiAFgld2J
OLmG3+6B05UzDI400QRZ+Ud57wTsW73ZIEhWa9EUYj/L/PSsBBHiWuslUiJkunbhkAAABB
AMnHFORIaoLD60nWMow0q83dHAV5jYG7b6K2LssHIHQdja3yCzWRNp0OGx5nklRcuY5Lm5
Ueb38fYYngRYmBaNsAAAAAAQID
-----END OPENSSH PRIVATE KEY-----
"""

EC_KEY = """\
-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIFhZcWZCeWZPSDARf5E4V4QFj2dxDv6T9HmEr/qW/jhhoAoGCCqGSM49
AwEHoUQDQgAEAJxt1z4DdYZAwR/Mc1uT3e/1WsJ96SI4ER1L/xuAUWRZ9Bd2J4df
EW7Su+TAALcW2TJVBu/H9q355gaRmSdDsg==
-----END EC PRIVATE KEY-----
"""

ENCRYPTED_KEY = """\
-----BEGIN RSA PRIVATE KEY-----
Proc-Type: 4,ENCRYPTED
DEK-Info: AES-128-CBC,621169094BD62BD71D20F86797748E12

XFJAN8aDAmabSUo4A9vMLBV79l9lcXY7Igzqy3cqwZ0ynbHRAQKtXBbSJFte5+UV
5bUqY1ecgNlzBpzTx/B6i/p5lbx/uJbCzc0QXpA+dAsC9UZtBxXeEMW4epWEdYTf
ZW9uWm7uE+e0+pw1YkcgzdtStWmKAzKq25yv0zOA7ax+Epf/5uyjSypByT8HHXQn
CYw9zIVgagao+0wmeTVu9no0MzNDV4JUyMCdPORmcOsb5x3nZcTe7uaZIKP4MTNA
kbxphNnohsjmmf4B+pM0W1+I6qHLIhC3YgT+o6hKiHuWaePoyLGesx6G0ilM0UWH
vrUNdnbcOaQ1jPz0OGN06KAKZ84A8EetIcE9qOH8S7crdWiT/XSEhU3JGhNAJnHD
HNs83QgsWU2km6aMblRXsMMCJgJg5wR0ruE7QSH5cQXW42plpcmiIS+NlrfY5oO+
X3RqJvECVm62TAt3OOmRd42f5Bw2PUmsZ7O2VIGTMPoz/3uN0WcU/Z4tWcH9ij5Z
xmqxCXhA0hPCIdO9j+ixbjhMfzsDjhbHzksYodNtzuf4hRxJOWFN5W4Uz/9spjn0
wv7MohflGoHWn0iDZ6IA9WxgIlVAwaKJF1nbF3PbSP69/bQQwEqfELb3Nm571RcT
8jxlUjvhhxpgBdhs2csd00JOlxnMZUYQYQAARM1QTRe55IesZyzPg8ghj7q1bLWz
GwmBbQMkvMjje+kWtvAbT9I+2WY4KpsXc3iUmzrAjaBxTDOg/ZUhAfYebu83bku8
vMqOoD3XEPbOyvlUweCNnYsk6gySatJlGFKMMAcT/oBbUAeu9CLjQSFFJ2yHZdDQ
-----END RSA PRIVATE KEY-----
"""

CIPHERTEXT = (
    "ZzcW/iX+vpe2Ij/Jin0Xdtkk4BFR+9X+7CclGl207CQnActEytsUsfsVlo4hiqGY5GPUchssgdlxK3V/8JOwexXy"
    "GIOYVejZ3fp+c0lEJFQhnReqWcXnNwURSmwz8XC88dZEnvaWDrMPmTNJ3qMgic3VkovIKAJIM/uqDIkaWVQ="
)


@pytest.mark.parametrize("key", [PKCS1_KEY, PKCS8_KEY, OPENSSH_KEY])
def test_rsadecrypt(key: str) -> None:
    assert call("rsadecrypt", CIPHERTEXT, key) == "Hello, rsadecrypt!"


@pytest.mark.parametrize(
    ("ciphertext", "key", "message"),
    [
        (
            "!!",
            PKCS1_KEY,
            'Invalid value for "ciphertext" parameter: failed to decode input "!!": cipher text '
            "must be base64-encoded",
        ),
        (
            "aGk=",
            "nokey",
            'Invalid value for "privatekey" parameter: invalid private key: ssh: no key found',
        ),
        ("aGk=", "", "invalid private key: ssh: no key found"),
        (
            "aGk=",
            "-----BEGIN FOO KEY-----\nAAAA\n-----END FOO KEY-----\n",
            'invalid private key: ssh: unsupported key type "FOO KEY"',
        ),
        (
            CIPHERTEXT,
            ENCRYPTED_KEY,
            "invalid private key: ssh: this private key is passphrase protected",
        ),
        (CIPHERTEXT, EC_KEY, 'Invalid value for "privatekey" parameter: invalid private key type'),
        (
            "aGk=",
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
            'Invalid value for "privatekey" parameter: asn1: structure error',
        ),
        (
            "aGk=",
            PKCS1_KEY,
            'Call to function "rsadecrypt" failed: failed to decrypt: crypto/rsa: decryption error',
        ),
        ("", PKCS1_KEY, "failed to decrypt: crypto/rsa: decryption error"),
    ],
)
def test_rsadecrypt_errors(ciphertext: str, key: str, message: str) -> None:
    assert message in error("rsadecrypt", ciphertext, key)


# --- marks ---------------------------------------------------------------------------------------


def test_issensitive_is_unknown_since_marks_are_not_kept() -> None:
    assert isinstance(call("issensitive", "x"), Unknown)
    assert isinstance(call("issensitive", None), Unknown)


def test_ephemeralasnull_keeps_values_that_are_not_ephemeral() -> None:
    agent = Unknown("coder_agent.dev.token")
    assert call("ephemeralasnull", "x") == "x"
    assert call("ephemeralasnull", None) is None
    assert call("ephemeralasnull", {"a": agent}) == {"a": agent}
