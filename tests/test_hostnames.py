"""App hostnames (SPEC §5): wildcard patterns, the subdomain label grammar, app URLs.

Vectors marked (Coder) are coder/coder's appurl_test.go (TestCompileHostnamePattern,
TestParseSubdomainAppURL, newest version) as recorded in reference/coder-behaviour.md §1.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from templater.model.hostnames import (
    LABEL_LIMIT,
    AppLabel,
    AppPath,
    HostnameError,
    app_label,
    compile_wildcard,
    label_overflow,
    parse_app_path,
    parse_label,
    path_app_url,
    port_label,
)

# --- compile_wildcard ---------------------------------------------------------------------------

SCHEME = "must not contain a scheme"
PERIOD = "must not start or end with a period"
TWO_LABELS = "must contain at least two labels"
ONE_STAR = "must contain exactly one asterisk"
STAR_AT_START = "must only contain an asterisk at the beginning"
INVALID_LABEL = "contains invalid label"
INVALID_PORT = "has an invalid port"
PROBLEMS = (SCHEME, PERIOD, TWO_LABELS, ONE_STAR, STAR_AT_START, INVALID_LABEL, INVALID_PORT)


@pytest.mark.parametrize(
    ("pattern", "problem", "named"),
    [
        # (Coder)
        ("http://*.hi.com", SCHEME, "'http'"),
        ("https://*.hi.com", SCHEME, "'https'"),
        (".hi.com", PERIOD, ".hi.com"),
        ("hi.com.", PERIOD, "hi.com."),
        ("", TWO_LABELS, "''"),
        ("hi", TWO_LABELS, "'hi'"),
        ("hi.com", ONE_STAR, "found 0"),
        ("**.hi.com", ONE_STAR, "found 2"),
        ("hi.*.com", STAR_AT_START, "'*'"),
        ("*.h_i.com", INVALID_LABEL, "'h_i'"),
        ("*.hi-.com", INVALID_LABEL, "'hi-'"),
        ("*.-hi.com", INVALID_LABEL, "'-hi'"),
        # ours
        ("*", TWO_LABELS, "'*'"),
        ("*:8080", TWO_LABELS, "'*:8080'"),
        ("*.hi.com.:8080", PERIOD, "'*.hi.com.:8080'"),
        ("a*.hi.com", STAR_AT_START, "'a*'"),
        ("*a*.hi.com", ONE_STAR, "found 2"),
        ("*.hi..com", INVALID_LABEL, "''"),
        ("*-.hi.com", INVALID_LABEL, "'*-'"),
        ("*.hi.com/apps", INVALID_LABEL, "'com/apps'"),
        ("*." + "a" * 64 + ".com", INVALID_LABEL, "at most 63"),
        ("*.hi.com:http", INVALID_PORT, "'http'"),
        ("*.hi.com:0", INVALID_PORT, "'0'"),
        ("*.hi.com:65536", INVALID_PORT, "'65536'"),
        ("*.hi.com:", INVALID_PORT, "''"),
    ],
)
def test_compile_wildcard_refusals(pattern: str, problem: str, named: str) -> None:
    with pytest.raises(HostnameError) as caught:
        compile_wildcard(pattern)
    message = str(caught.value)
    assert [p for p in PROBLEMS if p in message] == [problem]
    assert repr(pattern) in message
    assert named in message


def test_compile_wildcard_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        compile_wildcard("hi.com")


@pytest.mark.parametrize(
    ("pattern", "host", "port"),
    [
        ("*.hi.com", "*.hi.com", None),
        ("*.hi.com:8080", "*.hi.com", 8080),  # (Coder) accepted; we keep the port
        ("*.apps.localhost:7080", "*.apps.localhost", 7080),
        ("*--apps.example.com", "*--apps.example.com", None),
        ("*-suffix.test.coder.com", "*-suffix.test.coder.com", None),
        ("*a.hi.com", "*a.hi.com", None),
        ("  *.Apps.Example.COM  ", "*.apps.example.com", None),
        ("*.com", "*.com", None),
    ],
)
def test_compile_wildcard_accepts(pattern: str, host: str, port: int | None) -> None:
    compiled = compile_wildcard(pattern)
    assert (compiled.pattern, compiled.port) == (host, port)


MATCHES = [
    # (Coder) TestCompileHostnamePattern's match table
    ("*.hi", "hi", None),
    ("*.hi", "hi.com", None),
    ("*.hi", "hi.hi.hi", None),
    ("*.hi", "abcd.hi", "abcd"),
    ("*.hi", "abcd.hi.", "abcd"),
    ("*.hi", "  abcd.hi.  ", "abcd"),
    ("*.hi", "abcd.hi:8080", "abcd"),
    ("*.hi", "ab__invalid__cd-.hi", "ab__invalid__cd-"),
    ("*.hi.com", "hi.com", None),
    ("*.hi.com", "abcd.hi.com", "abcd"),
    ("*.hi.com", "ab__invalid__cd-.hi.com", "ab__invalid__cd-"),
    ("*a.hi.com", "hi.com", None),
    ("*a.hi.com", "abcd.hi.com", None),
    ("*a.hi.com", "ab__invalid__cd-.hi.com", None),
    ("*a.hi.com", "abcda.hi.com", "abcd"),
    ("*a.hi.com", "ab__invalid__cd-a.hi.com", "ab__invalid__cd-"),
    ("*-test.hi.com", "abcd.hi.com", None),
    ("*-test.hi.com", "abcd-test.hi.com", "abcd"),
    ("*-test.hi.com", "ab__invalid__cd-test.hi.com", "ab__invalid__cd"),
    # case-insensitive (Coder is not: we differ on purpose); the part comes back lower-cased
    ("*.apps.example.com", "Code-Server--Dev--Alice.APPS.Example.COM", "code-server--dev--alice"),
    ("*.APPS.example.com", "app--ws--user.apps.example.com", "app--ws--user"),
    # one trailing dot, any port
    ("*.apps.example.com", "app--ws--user.apps.example.com.", "app--ws--user"),
    ("*.apps.example.com", "app--ws--user.apps.example.com.:443", "app--ws--user"),
    ("*.apps.example.com", "app--ws--user.apps.example.com..", None),
    ("*.apps.localhost:7080", "app--ws--user.apps.localhost:7080", "app--ws--user"),
    ("*.apps.localhost:7080", "app--ws--user.apps.localhost", "app--ws--user"),
    ("*.apps.localhost:7080", "app--ws--user.apps.localhost:x", None),
    # the * is one label part: never a dot, never a suffix host
    ("*.apps.example.com", "app--ws--alice.apps.example.com.evil.test", None),
    ("*.apps.example.com", "a.b.apps.example.com", None),
    ("*.apps.example.com", "apps.example.com", None),
    ("*.apps.example.com", ".apps.example.com", None),
    ("*.apps.example.com", "app--ws--user.apps.example.co", None),
    ("*.apps.example.com", "app--ws--userXapps.example.com", None),
    ("*--apps.example.com", "code-server--dev--alice--apps.example.com", "code-server--dev--alice"),
    ("*--apps.example.com", "code-server--dev--alice.example.com", None),
    ("*-suffix.test.coder.com", "app--ws--user.test.coder.com", None),
    ("*-suffix.test.coder.com", "app--ws--user-suffixes.test.coder.com", None),
    # a different suffix ending in the pattern's is another label (user "user-not"), not this app
    ("*-suffix.test.coder.com", "app--ws--user-not-suffix.test.coder.com", "app--ws--user-not"),
]


@pytest.mark.parametrize(("pattern", "host", "part"), MATCHES)
def test_match(pattern: str, host: str, part: str | None) -> None:
    assert compile_wildcard(pattern).match(host) == part


def test_host_for_and_app_origin() -> None:
    local = compile_wildcard("*.apps.localhost:7080")
    assert (
        local.host_for("code-server--dev--alice") == "code-server--dev--alice.apps.localhost:7080"
    )
    # The pattern's own port wins over the access URL's.
    assert local.app_origin("code-server--dev--alice", "http://localhost:9000") == (
        "http://code-server--dev--alice.apps.localhost:7080"
    )
    assert str(local) == "*.apps.localhost:7080"
    suffixed = compile_wildcard("*--apps.example.com")
    assert suffixed.app_origin("app--ws--user", "https://example.com") == (
        "https://app--ws--user--apps.example.com"
    )
    # Without a port of its own, app hosts share the access URL's (as Coder does).
    assert suffixed.app_origin("app--ws--user", "http://example.com:8080/") == (
        "http://app--ws--user--apps.example.com:8080"
    )
    for bad in ("", "a.b"):
        with pytest.raises(HostnameError, match="one non-empty DNS label"):
            local.host_for(bad)


# --- parse_label --------------------------------------------------------------------------------


def app(slug: str, workspace: str = "workspace", user: str = "user", prefix: str = "") -> AppLabel:
    return AppLabel(prefix, slug, None, False, None, workspace, user)


def port(number: int, agent: str = "agent", https: bool = False, prefix: str = "") -> AppLabel:
    return AppLabel(prefix, None, number, https, agent, "workspace", "user")


PARSED = [
    # SPEC §5 and (Coder) TestParseSubdomainAppURL, newest behaviour
    ("app--workspace--user", app("app")),
    ("app--agent--workspace--user", app("app")),
    ("8080--agent--workspace--user", port(8080)),
    ("12412--agent--workspace--user", port(12412)),
    ("8080s--agent--workspace--user", port(8080, https=True)),
    (
        "app-slug--agent-name--workspace-name--user-name",
        app("app-slug", "workspace-name", "user-name"),
    ),
    (
        "dean---was---here---app--agent--workspace--user",
        app("app", prefix="dean---was---here---"),
    ),
    ("30000--agent--workspace--user", port(30000)),
    ("123--workspace--user", app("123")),
    ("myapp--agent--workspace--user", app("myapp")),
    # derived from Coder's regexes
    ("8080ss--agent--workspace--user", app("8080ss")),
    ("123456--agent--workspace--user", app("123456")),
    ("8080abc--workspace--user", app("8080abc")),
    ("App--Ws--User", app("App", "Ws", "User")),
    ("a---b--workspace--user", app("b", prefix="a---")),
    ("---app--workspace--user", app("app", prefix="---")),
    (
        "some---prefix---9090s--agent--workspace--user",
        port(9090, https=True, prefix="some---prefix---"),
    ),
    ("00080--agent--workspace--user", port(80)),
    ("0009--agent--workspace--user", port(9)),
    ("65535--agent--workspace--user", port(65535)),
]


@pytest.mark.parametrize(("label", "parsed"), PARSED)
def test_parse_label(label: str, parsed: AppLabel) -> None:
    assert parse_label(label) == parsed


INVALID = "invalid application URL"
AGENT_REQUIRED = "agent name is required for port-based URLs"


@pytest.mark.parametrize(
    ("label", "problem", "detail"),
    [
        # SPEC §5 and (Coder)
        ("test", INVALID, "has 1 part separated"),
        ("workspace.agent--app", INVALID, "'.'"),
        ("workspace--app", INVALID, "2 parts"),
        ("1--2--3--4--5", INVALID, "5 parts"),
        ("-app--ws--user", INVALID, "'-app'"),
        ("app_1--ws--user", INVALID, "'_'"),
        ("8080--workspace--user", AGENT_REQUIRED, "8080--{agent}--workspace--user"),
        ("1234--workspace--user", AGENT_REQUIRED, "1234--{agent}--workspace--user"),
        ("8080s--workspace--user", AGENT_REQUIRED, "8080s--{agent}--workspace--user"),
        # derived from Coder's regexes
        ("app--ws--user---", INVALID, "nothing after the prefix"),
        ("p----app--ws--user", INVALID, "'-app'"),
        ("app--ws--user-", INVALID, "'user-'"),
        ("--app--ws--user", INVALID, "empty part"),
        ("", INVALID, "nothing after the prefix"),
        ("app--wörkspace--user", INVALID, "'ö'"),
        ("app--ws--user\n", INVALID, "'\\n'"),
        # ports: below 9 and above 65535 refused
        ("0008--agent--workspace--user", "port 8", "reserved"),
        ("0000--agent--workspace--user", "port 0", "reserved"),
        ("65536--agent--workspace--user", "port 65536", "out of range"),
        ("99999s--agent--workspace--user", "port 99999", "out of range"),
    ],
)
def test_parse_label_refusals(label: str, problem: str, detail: str) -> None:
    with pytest.raises(HostnameError) as caught:
        parse_label(label)
    message = str(caught.value)
    assert problem in message
    assert detail in message
    assert repr(label) in message


# --- generation ---------------------------------------------------------------------------------


def test_app_label() -> None:
    assert app_label("code-server", "dev", "alice") == "code-server--dev--alice"
    # (Coder) TestApplicationURLString rows that are app labels (the agent is never part of one)
    assert app_label("myapp", "workspace", "user") == "myapp--workspace--user"
    assert app_label("app123", "workspace", "user") == "app123--workspace--user"
    assert app_label("8080abc", "workspace", "user") == "8080abc--workspace--user"
    assert app_label("123", "workspace", "user") == "123--workspace--user"


def test_port_label() -> None:
    assert port_label(8080, False, "agent", "workspace", "user") == "8080--agent--workspace--user"
    assert port_label(1234, False, "agent", "workspace", "user") == "1234--agent--workspace--user"
    assert port_label(8443, True, "main", "dev", "alice") == "8443s--main--dev--alice"
    # a port below 1000 is zero-padded, or it would read as an app slug
    assert port_label(80, False, "main", "dev", "alice") == "0080--main--dev--alice"
    assert parse_label("0080--main--dev--alice").port == 80


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: app_label("8080", "ws", "user"), "would be read as a port"),
        (lambda: app_label("8080s", "ws", "user"), "would be read as a port"),
        (lambda: app_label("app_1", "ws", "user"), "app slug 'app_1'"),
        (lambda: app_label("app", "my--ws", "user"), "workspace name 'my--ws'"),
        (lambda: app_label("app", "ws", ""), "username ''"),
        (lambda: port_label(8, False, "agent", "ws", "user"), "port 8"),
        (lambda: port_label(65536, False, "agent", "ws", "user"), "port 65536"),
        (lambda: port_label(8080, False, "", "ws", "user"), "agent name ''"),
        (lambda: port_label(8080, False, "a.b", "ws", "user"), "agent name 'a.b'"),
    ],
)
def test_generation_refusals(make: Callable[[], str], message: str) -> None:
    with pytest.raises(HostnameError, match=re.escape(message)):
        make()


def test_label_overflow() -> None:
    assert LABEL_LIMIT == 63
    assert label_overflow("app--ws--user") == 0
    assert label_overflow("a" * 63) == 0
    assert label_overflow("a" * 64) == 1
    assert label_overflow(app_label("s" * 30, "w" * 20, "u" * 20)) == 74 - 63


def test_label_property_round_trips() -> None:
    for label, _ in PARSED:
        parsed = parse_label(label)
        assert parse_label(parsed.label) == parsed
    assert parse_label("app--agent--workspace--user").label == "app--workspace--user"
    assert parse_label("00080--agent--workspace--user").label == "0080--agent--workspace--user"


# --- round-trip properties ----------------------------------------------------------------------

_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
parts = st.lists(st.text(_ALNUM, min_size=1, max_size=6), min_size=1, max_size=3).map("-".join)
prefixes = st.lists(st.text(_ALNUM + "-_", max_size=6), max_size=2).map(
    lambda pieces: "".join(piece + "---" for piece in pieces)
)


def _looks_like_port(slug: str) -> bool:
    return slug.rstrip("s").isdigit() and 4 <= len(slug.removesuffix("s")) <= 5


@given(slug=parts, workspace=parts, user=parts, prefix=prefixes)
def test_app_label_round_trip(slug: str, workspace: str, user: str, prefix: str) -> None:
    assume(not _looks_like_port(slug))
    assume(not prefix.endswith("----") and "-----" not in prefix)
    label = app_label(slug, workspace, user)
    assert parse_label(prefix + label) == app(slug, workspace, user, prefix)


@given(
    number=st.integers(9, 65535),
    https=st.booleans(),
    agent=parts,
    workspace=parts,
    user=parts,
)
def test_port_label_round_trip(
    number: int, https: bool, agent: str, workspace: str, user: str
) -> None:
    parsed = parse_label(port_label(number, https, agent, workspace, user))
    assert parsed == AppLabel("", None, number, https, agent, workspace, user)


@given(label=st.text(_ALNUM + "-_", min_size=1, max_size=40))
def test_host_for_match_round_trip(label: str) -> None:
    for pattern in ("*.apps.example.com", "*--apps.example.com:7080", "*a.hi.com"):
        wildcard = compile_wildcard(pattern)
        assert wildcard.match(wildcard.host_for(label)) == label.lower()


# --- path-based apps ----------------------------------------------------------------------------


def test_path_app_url() -> None:
    assert path_app_url("https://coder.example.com", "alice", "dev", "code-server") == (
        "https://coder.example.com/@alice/dev/apps/code-server/"
    )
    assert path_app_url("https://coder.example.com/", "alice", "dev", "code-server", "main") == (
        "https://coder.example.com/@alice/dev.main/apps/code-server/"
    )
    assert path_app_url("http://localhost:7080/base/", "alice", "dev", "app") == (
        "http://localhost:7080/base/@alice/dev/apps/app/"
    )
    with pytest.raises(HostnameError, match=re.escape("workspace name 'dev.main'")):
        path_app_url("https://coder.example.com", "alice", "dev.main", "app")


@pytest.mark.parametrize(
    ("path", "parsed"),
    [
        ("/@alice/dev/apps/code-server/", AppPath("alice", "dev", None, "code-server", "/")),
        ("/@alice/dev.main/apps/code-server/", AppPath("alice", "dev", "main", "code-server", "/")),
        (
            "/%40alice/dev/apps/code-server/a/b?c",
            AppPath("alice", "dev", None, "code-server", "/a/b?c"),
        ),
        ("/@alice/dev/apps/code-server", AppPath("alice", "dev", None, "code-server", "")),
        ("/@alice/dev.main.x/apps/app//", AppPath("alice", "dev", "main.x", "app", "//")),
        ("/@alice/dev", None),
        ("/@alice/dev/apps/", None),
        ("/@alice/dev/apps", None),
        ("/@alice/.main/apps/app/", None),
        ("/@alice/dev./apps/app/", None),
        ("/@/dev/apps/app/", None),
        ("/alice/dev/apps/app/", None),
        ("/api/v2/users/@alice/dev/apps/app/", None),
        ("/@alice/dev/terminal", None),
    ],
)
def test_parse_app_path(path: str, parsed: AppPath | None) -> None:
    assert parse_app_path(path) == parsed


def test_needs_slash() -> None:
    bare = parse_app_path("/@alice/dev/apps/code-server")
    slashed = parse_app_path("/@alice/dev/apps/code-server/")
    assert bare is not None and bare.needs_slash
    assert slashed is not None and not slashed.needs_slash
    user, workspace, agent, slug, rest = slashed
    assert (user, workspace, agent, slug, rest) == ("alice", "dev", None, "code-server", "/")


def test_path_url_round_trip() -> None:
    url = path_app_url("https://coder.example.com", "alice", "dev", "code-server", "main")
    assert parse_app_path(url.removeprefix("https://coder.example.com")) == AppPath(
        "alice", "dev", "main", "code-server", "/"
    )
