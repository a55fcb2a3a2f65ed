"""POST /api/token: a join token, optionally carrying the agent dispatch (room config)."""

from __future__ import annotations

import logging
from datetime import timedelta

from fastapi import APIRouter

from devstack.rooms import find_room
from devstack.tokens import mint_token, new_identity
from proxy.deps import LiveKit, SettingsDep
from proxy.models import TokenRequest, TokenResponse
from proxy.routes.dispatch import agent_name_for

logger = logging.getLogger("devstack.proxy")
router = APIRouter(prefix="/api", tags=["tokens"])


@router.post("/token", response_model=TokenResponse)
async def create_token(body: TokenRequest, lk: LiveKit, settings: SettingsDep) -> TokenResponse:
    """A join token; with dispatch='token' it also asks the server to dispatch the agent."""
    agent_name = agent_name_for(settings, body.agent_name) if body.dispatch == "token" else None
    identity = body.identity or new_identity()
    token = mint_token(
        api_key=settings.livekit_api_key,
        api_secret=settings.livekit_api_secret,
        room=body.room,
        identity=identity,
        name=body.name,
        agent_name=agent_name,
        metadata=body.metadata,
        ttl=timedelta(seconds=body.ttl_seconds),
    )
    warning = None
    if agent_name is not None and (existing := await find_room(lk, body.room)) is not None:
        # The server reads the token's room config only when this join creates the room.
        warning = (
            f"room {body.room} already exists ({existing.num_participants} participants), so "
            "the agent dispatch in this token will be ignored; use a new room name or "
            "POST /api/dispatch-agent"
        )
    logger.info(
        "token minted: room=%s identity=%s dispatch=%s agent_name=%s%s",
        body.room,
        identity,
        body.dispatch,
        agent_name or "-",
        f" WARNING {warning}" if warning else "",
    )
    return TokenResponse(
        server_url=settings.livekit_url,
        token=token,
        room=body.room,
        identity=identity,
        dispatch=body.dispatch,
        agent_name=agent_name,
        warning=warning,
    )
