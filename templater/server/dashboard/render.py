"""The dashboard's pages from its Jinja2 templates, as responses with the headers every page
of the access URL carries."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

# The pages load their own script, style and images of this server only, but for app icons,
# which templates may take from anywhere (SPEC §13); no other site may frame them.
_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; img-src * data:; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _ago(moment: datetime | None) -> str:
    """``moment`` as people say it: ``just now``, ``5 min ago``, ``3 h ago``, ``2 days ago``."""
    if moment is None:
        return ""
    seconds = max(0, int((datetime.now(UTC) - moment).total_seconds()))
    if seconds < 45:
        return "just now"
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min ago"
    if seconds < 86400:
        return f"{round(seconds / 3600)} h ago"
    days = round(seconds / 86400)
    return f"{days} day{'s' if days != 1 else ''} ago"


def _utc(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


_templates = Environment(
    loader=PackageLoader("templater.server.dashboard", "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.filters["ago"] = _ago
_templates.filters["utc"] = _utc


def page(status: int, template: str, cookies: Iterable[str] = (), **context: Any) -> HTMLResponse:
    """``template`` rendered with ``context``, answered with ``status``, setting ``cookies``."""
    response = HTMLResponse(
        _templates.get_template(template).render(**context), status, headers=_SECURITY_HEADERS
    )
    for cookie in cookies:
        response.headers.append("Set-Cookie", cookie)
    return response


def message(
    status: int, title: str, text: str, back: str = "/", back_text: str = ""
) -> HTMLResponse:
    """A page that says one thing, with a link back (to the dashboard unless told)."""
    return page(
        status,
        "message.html",
        title=title,
        text=text,
        back=back,
        back_text=back_text or "Back to your workspaces",
        user=None,
    )


def see_other(location: str, *cookies: str) -> RedirectResponse:
    response = RedirectResponse(location, 303, headers={"Cache-Control": "no-store"})
    for cookie in cookies:
        response.headers.append("Set-Cookie", cookie)
    return response
