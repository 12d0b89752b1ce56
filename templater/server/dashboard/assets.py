"""The dashboard's files: its stylesheet and script, and the app icons of Coder's paths
(``/icon/NAME.svg``, ``/emojis/NAME.png``) from the built-in set. They change only with
templater itself, so browsers may keep them for a day."""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations.
from functools import cache
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response

from templater.server.dashboard.icons import EMOJI_PATH, ICON_PATH, icon_svg

_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
_CACHED = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}


@cache
def _static() -> dict[str, tuple[bytes, str]]:
    folder = resources.files(__package__).joinpath("static")
    return {
        entry.name: (entry.read_bytes(), _TYPES[suffix])
        for entry in folder.iterdir()
        if (suffix := entry.name[entry.name.rfind(".") :]) in _TYPES
    }


def assets_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/static/{name}")
    def static(name: str) -> Response:
        found = _static().get(name)
        if found is None:
            return Response("no such file\n", 404, media_type="text/plain")
        body, media_type = found
        return Response(body, media_type=media_type, headers=_CACHED)

    @router.get(ICON_PATH + "{name}")
    @router.get(EMOJI_PATH + "{name}")
    def icon(name: str) -> Response:
        """The built-in icon of that name, or the generic one: a template's icon path never
        shows as a broken image."""
        return Response(icon_svg(name), media_type="image/svg+xml", headers=_CACHED)

    return router
