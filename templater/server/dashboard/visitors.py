"""Who a browser on the access URL is: the user of its session cookie, if it has a live one."""

from __future__ import annotations

from fastapi import Request

from templater.model.records import BrowserSession
from templater.server.logs import note_user
from templater.server.router.sessions import ACCESS_COOKIE, SessionSigner
from templater.server.store import Store

SESSION_HOST = ""
"""Sessions on the access URL are signed for this host name (app hosts use their label)."""


class Visitors:
    def __init__(self, store: Store, signer: SessionSigner) -> None:
        self._store = store
        self._signer = signer

    def signed_in(self, request: Request) -> BrowserSession | None:
        """The browser's session and its user (noted for the access log); None when it has no
        session, or one that ended, or its user is suspended. Reads the store: call it from a
        thread."""
        cookie = request.cookies.get(ACCESS_COOKIE)
        session = self._signer.session(cookie, SESSION_HOST) if cookie else None
        user = self._store.user_by_session(session) if session is not None else None
        if session is None or user is None:
            return None
        note_user(request, user.name)
        return BrowserSession(session, user)
