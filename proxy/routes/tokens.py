"""POST /api/token: a join token, optionally carrying the agent dispatch (room config)."""

from __future__ import annotations

import logging
from datetime import timedelta

from fastapi import APIRouter

from devstack.tokens import mint_token, new_identity
from proxy.deps import LiveKit, SettingsDep, WatcherDep
from proxy.models import TokenRequest, TokenResponse
from proxy.names import agent_name_for
from proxy.warnings import room_exists_warning

router = APIRouter(prefix="/api", tags=["tokens"])
logger = logging.getLogger("devstack.proxy")


@router.post("/token", response_model=TokenResponse)
async def create_token(
    body: TokenRequest, lk: LiveKit, settings: SettingsDep, watcher: WatcherDep
) -> TokenResponse:
    """A join token; with dispatch='token' it also asks the server to dispatch the agent."""
    agent_name = (
        await agent_name_for(settings, body.agent_name) if body.dispatch == "token" else None
    )
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
    if agent_name is not None:
        warning = await room_exists_warning(lk, body.room)
        if warning is None:
            watcher.expect_token(body.room, identity, [(agent_name, body.metadata)])
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
