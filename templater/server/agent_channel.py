"""The agents' control channel endpoint (SPEC §11): a WebSocket at ``CONTROL_PATH``, opened by
``templater agent`` with its agent token. The token is checked before anything the agent sends is
read; a wrong one is refused with 401 and a reason, before the WebSocket is accepted."""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from templater.model.agent_messages import CONTROL_PATH, MAX_MESSAGE, BadMessage
from templater.server.hub import AgentHub
from templater.server.store import Store
from templater.server.store.repository import hash_token

_BEARER = "bearer "


def agent_channel_router(store: Store, hub: AgentHub) -> APIRouter:
    router = APIRouter()

    @router.websocket(CONTROL_PATH)
    async def control_channel(websocket: WebSocket) -> None:
        authorization = websocket.headers.get("authorization", "")
        token = authorization[len(_BEARER) :] if authorization.lower().startswith(_BEARER) else ""
        identity = await asyncio.to_thread(store.agent_by_token, token) if token else None
        if identity is None:
            why = "the agent token is wrong or was replaced" if token else "no agent token"
            await websocket.send_denial_response(JSONResponse({"detail": why}, status_code=401))
            return
        await websocket.accept()

        async def receive() -> str:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            text = message.get("text")
            if text is None or len(text) > MAX_MESSAGE:
                raise BadMessage("a message must be JSON text of at most 1 MiB")
            return str(text)

        with contextlib.suppress(WebSocketDisconnect):
            await hub.serve(identity, hash_token(token), websocket, receive)

    return router
