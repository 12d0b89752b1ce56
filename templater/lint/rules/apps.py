"""Semantic rules for coder_app: what the schema alone cannot tell."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

from templater.engine.diagnostics import Diagnostic, Severity
from templater.engine.evaluate import ResolvedAttribute, ResolvedResource
from templater.engine.values import Unknown, is_wholly_known, render
from templater.lint.rules.registry import rule
from templater.lint.rules.schema import converted
from templater.lint.rules.versioning import Part, versioned
from templater.model.levels import SHARE_LEVELS

if TYPE_CHECKING:
    from templater.lint.rules.registry import LintContext

DNS_LABEL_LIMIT = 63
# Without the workspace and owner, a slug must leave this much of the label for both together.
HOSTNAME_ROOM = 20


def known(context: LintContext, resource: ResolvedResource, name: str) -> Any:
    """An argument's value when it is set and wholly known, converted as Terraform passes it to
    the provider (``subdomain = "true"`` is true); None otherwise, and for an argument the
    template's provider release does not have (app-unknown-attribute reports that one)."""
    attribute = resource.attributes.get(name)
    if attribute is None or not is_wholly_known(attribute.value):
        return None
    argument = context.argument(resource.type, name)
    return None if argument is None else converted(attribute.value, argument)


def is_set(context: LintContext, resource: ResolvedResource, name: str) -> bool:
    """Whether the argument is known to have a value (null is none; unknown may be null)."""
    return known(context, resource, name) is not None


def is_unknown(context: LintContext, resource: ResolvedResource, name: str) -> bool:
    """Whether the argument is given a value that is not known yet."""
    attribute = resource.attributes.get(name)
    if attribute is None or not context.has_argument(resource.type, name):
        return False
    return not is_wholly_known(attribute.value)


def slug_of(context: LintContext, app: ResolvedResource) -> str | None:
    """The app's slug when it is known. A provider release without the slug argument leaves
    it to Coder, which takes the resource name."""
    if not context.has_argument(app.type, "slug"):
        return app.name
    slug = known(context, app, "slug")
    return slug if isinstance(slug, str) else None


def _slug_finding(
    context: LintContext, rule_id: str, message: str, app: ResolvedResource
) -> Diagnostic:
    if context.has_argument(app.type, "slug"):
        return context.value_finding(rule_id, message, app, app.attributes["slug"])
    return context.finding(
        rule_id, message + " (the resource name is the slug)", app.name_span, app
    )


def _existing(context: LintContext) -> list[ResolvedResource]:
    """The apps known to exist: instances of blocks whose count and for_each are known."""
    return [app for app in context.apps if app.expanded]


@rule(
    "app-slug-duplicate",
    Severity.ERROR,
    "Two apps in one template share a slug",
    """
Coder refuses a template in which two apps have the same slug ("duplicate app slug, they must be
unique per template"), even under different agents. Apps made by count or for_each need the
index or key in their slug (`slug = "notebook-${count.index}"`). With a provider that has no slug
argument, the slug is the resource name.
""",
)
def check_slug_duplicate(context: LintContext) -> Iterator[Diagnostic]:
    first: dict[str, ResolvedResource] = {}
    for app in _existing(context):
        slug = slug_of(context, app)
        if slug is None:
            continue
        if slug in first:
            other = first[slug]
            yield _slug_finding(
                context,
                "app-slug-duplicate",
                f'slug "{slug}" is already used by {other.address} ({other.span.file}:{other.span.line})',
                app,
            )
        else:
            first[slug] = app


# From least to most open.
_SHARE_ORDER = {level: rank for rank, level in enumerate(SHARE_LEVELS)}


@rule(
    "app-share-above-max",
    Severity.ERROR,
    "An app is shared more openly than --max-share allows",
    """
A deployment policy: `--max-share authenticated` refuses public apps, `--max-share owner` any
sharing at all. Share levels are ordered owner < authenticated < public; an app without share is
owner-only.
""",
)
def check_share_above_max(context: LintContext) -> Iterator[Diagnostic]:
    limit = context.options.max_share
    if limit is None:
        return
    for app in context.apps:
        share = known(context, app, "share")
        if share in _SHARE_ORDER and _SHARE_ORDER[share] > _SHARE_ORDER[limit]:
            yield context.value_finding(
                "app-share-above-max",
                f'share is "{share}", more open than this deployment allows ("{limit}")',
                app,
                app.attributes["share"],
            )


# (argument, arguments it excludes, the part of app-conflict when it is versioned). An argument
# the template's provider release lacks conflicts with nothing (app-unknown-attribute reports it).
_CONFLICTS: tuple[tuple[str, tuple[str, ...], Part | None], ...] = (
    ("command", ("url", "healthcheck"), None),
    # terraform-provider-coder 76bda72 (#469), first in v2.14.0.
    (
        "command",
        ("subdomain",),
        versioned("app-conflict", "command with subdomain", since="2.14.0"),
    ),
    ("external", ("healthcheck", "command", "subdomain", "share"), None),
    # c474eba (#68), v0.6.0; both arguments removed by dea0442 (#257), v2.0.0-rc.1.
    ("name", ("display_name",), None),
    (
        "relative_path",
        ("subdomain",),
        versioned("app-conflict", "relative_path with subdomain", since="0.6.0"),
    ),
)


@rule(
    "app-conflict",
    Severity.ERROR,
    "An app sets arguments that exclude each other",
    """
An app is a command run in a terminal, a web app proxied by Coder, or an external link. So
`command` cannot go with `url`, `subdomain` (from provider 2.14.0) or a healthcheck, and
`external = true` cannot go with a healthcheck, `command`, `subdomain` or `share`: the provider
refuses such a block. Providers before 2.0 also refuse the deprecated `name` with `display_name`
and `relative_path` with `subdomain`.
""",
)
def check_conflict(context: LintContext) -> Iterator[Diagnostic]:
    conflicts = [
        (name, excluded, part)
        for name, excluded, part in _CONFLICTS
        if part is None or context.applies(part)
    ]
    for app in context.apps:
        for name, excluded, part in conflicts:
            if name == "external" and known(context, app, "external") is not True:
                continue
            if not is_set(context, app, name):
                continue
            for other in excluded:
                span = _argument_span(context, app, other)
                if span is not None:
                    what = "external = true" if name == "external" else name
                    since = f" (from Coder provider {part.since} on)" if part and part.since else ""
                    yield context.finding(
                        "app-conflict",
                        f"{other} cannot be set together with {what}{since}",
                        span,
                        app,
                    )


def _argument_span(context: LintContext, app: ResolvedResource, name: str) -> Any:
    if is_set(context, app, name):
        return app.attributes[name].name_span
    if not context.has_argument(app.type, name):
        return None
    # A dynamic block whose for_each is unknown may make none: it sets nothing for sure.
    blocks = [block for block in app.body.blocks_of(name) if not block.repeated]
    return blocks[0].span if blocks else None


_AGENT_ID = re.compile(r"^(module\.[^.]+(\[[^\]]*\])?\.)*coder_agent\.[^.\[]+(\[[^\]]*\])?\.id$")


@rule(
    "app-agent-reference",
    Severity.ERROR,
    "agent_id is known not to be the id of a coder_agent of this template",
    """
agent_id must be the id of one of the template's agents: `coder_agent.main.id` (passed through
variables and module inputs as much as you like). A literal string, another resource's id or an
agent's token is not, and the app would never appear. An unknown value whose source cannot be
told (an unset variable) is not reported.
""",
)
def check_agent_reference(context: LintContext) -> Iterator[Diagnostic]:
    for app in context.apps:
        attribute = app.attributes.get("agent_id")
        if attribute is None or attribute.value is None:
            continue
        value = attribute.value
        if isinstance(value, Unknown):
            origin = value.origin
            if origin is None or origin.startswith("var.") or _AGENT_ID.match(origin):
                continue
            shown = origin
        elif is_wholly_known(value):
            shown = render(value)
        else:
            continue
        yield context.value_finding(
            "app-agent-reference",
            f"agent_id is {shown}, not the id of a coder_agent; use coder_agent.NAME.id",
            app,
            attribute,
        )


def _proxied_urls(
    context: LintContext,
) -> Iterator[tuple[ResolvedResource, ResolvedAttribute, SplitResult]]:
    """Each app that Coder proxies (not external) and whose url is known, with the url parsed."""
    for app in context.apps:
        value = known(context, app, "url")
        if known(context, app, "external") is True or is_unknown(context, app, "external"):
            continue
        if not isinstance(value, str):
            continue
        try:
            url = urlsplit(value)
        except ValueError:
            url = urlsplit("")
        yield app, app.attributes["url"], url


@rule(
    "app-url-format",
    Severity.ERROR,
    "url is not an absolute http or https URL with a host",
    """
Coder proxies an app (one that is not external) by connecting to its url from the agent: it must
be `http://` or `https://` with a host and, usually, the port the app listens on
(`http://localhost:8080/`). External apps may use any scheme (`vscode://…`).
""",
)
def check_url_format(context: LintContext) -> Iterator[Diagnostic]:
    for app, attribute, url in _proxied_urls(context):
        if url.scheme.lower() not in ("http", "https") or not url.hostname:
            yield context.value_finding(
                "app-url-format",
                f"url {render(attribute.value)} must be an absolute http or https URL with a host",
                app,
                attribute,
            )


@rule(
    "app-url-port-reserved",
    Severity.ERROR,
    "url uses a port below 9",
    """
Coder reserves ports 0 to 8 for its agent and refuses to proxy them ("Coder reserves ports less than
9 for internal use"); run the app on another port.
""",
)
def check_url_port(context: LintContext) -> Iterator[Diagnostic]:
    for app, attribute, url in _proxied_urls(context):
        try:
            port = url.port
        except ValueError:
            continue
        if port is not None and port < 9:
            yield context.value_finding(
                "app-url-port-reserved",
                f"url uses port {port}; Coder reserves ports below 9 and will not proxy them",
                app,
                attribute,
            )


@rule(
    "app-hostname-too-long",
    Severity.WARNING,
    "The app's subdomain label would exceed the 63 characters a DNS label may have",
    """
A subdomain app is served at `SLUG--WORKSPACE--OWNER.apps.example.com`, and that first label may
be at most 63 characters long. Coder does not check this and such an app silently fails
(coder/coder#15178). With --workspace and --owner the check is exact; without them it fires when
the slug leaves fewer than 20 characters for the workspace name and username together.
`templater plan` and `apply` treat it as an error.
""",
)
def check_hostname_length(context: LintContext) -> Iterator[Diagnostic]:
    workspace = context.options.evaluation.workspace
    owner = context.options.evaluation.owner
    for app in context.apps:
        slug = slug_of(context, app)
        if known(context, app, "subdomain") is not True or slug is None:
            continue
        if workspace and owner:
            label = f"{slug}--{workspace}--{owner}"
            if len(label) <= DNS_LABEL_LIMIT:
                continue
            message = (
                f'hostname label "{label}" is {len(label)} characters, '
                f"{len(label) - DNS_LABEL_LIMIT} over the limit of {DNS_LABEL_LIMIT}"
            )
        else:
            room = DNS_LABEL_LIMIT - len(slug) - len("----")
            if room >= HOSTNAME_ROOM:
                continue
            message = (
                f'slug "{slug}" leaves {max(room, 0)} characters of the {DNS_LABEL_LIMIT}-character '
                "hostname label for workspace name and username together"
            )
        yield _slug_finding(context, "app-hostname-too-long", message, app)


@rule(
    "app-hidden-presentational",
    Severity.WARNING,
    "display_name, icon or order is set on a hidden app",
    """
A hidden app is never shown in the dashboard, so how it would be shown has no effect: either the
app is not meant to be hidden, or these arguments can go.
""",
)
def check_hidden_presentational(context: LintContext) -> Iterator[Diagnostic]:
    for app in context.apps:
        if known(context, app, "hidden") is not True:
            continue
        for name in ("display_name", "icon", "order"):
            if is_set(context, app, name):
                yield context.finding(
                    "app-hidden-presentational",
                    f"{name} has no effect on a hidden app",
                    app.attributes[name].name_span,
                    app,
                )


_LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]"}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _endpoint(url: SplitResult) -> tuple[str, str, int | None] | None:
    try:
        port = url.port
    except ValueError:
        return None
    scheme = url.scheme.lower()
    host = (url.hostname or "").lower()
    return scheme, "localhost" if host in _LOOPBACK else host, port or _DEFAULT_PORTS.get(scheme)


@rule(
    "app-healthcheck-url-mismatch",
    Severity.WARNING,
    "The healthcheck's scheme, host or port differs from the app url's",
    """
A healthcheck normally asks the app itself (`url = "http://localhost:8080"` checked at
`http://localhost:8080/healthz`). One on another port or host checks something else, so the app
can show healthy while it is down. localhost, 127.0.0.1 and ::1 count as the same host.
""",
)
def check_healthcheck_url(context: LintContext) -> Iterator[Diagnostic]:
    for app, url_attribute, url in _proxied_urls(context):
        served = _endpoint(url)
        for healthcheck in app.body.blocks_of("healthcheck"):
            attribute = healthcheck.attributes.get("url")
            if attribute is None or not isinstance(attribute.value, str) or served is None:
                continue
            checked = _endpoint(urlsplit(attribute.value))
            if checked is not None and checked[1] and checked != served:
                yield context.value_finding(
                    "app-healthcheck-url-mismatch",
                    f"healthcheck url {render(attribute.value)} is not on the app's "
                    f"{served[0]}://{served[1]}:{served[2]} (url {render(url_attribute.value)})",
                    app,
                    attribute,
                    "healthcheck.url",
                )
