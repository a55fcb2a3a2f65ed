"""POST /api/dispatch-agent: explicit, idempotent dispatch, with a warning when the
worker we can see will not take it."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request

from devstack.settings import Settings
from proxy.deps import DispatcherDep, SettingsDep
from proxy.errors import ApiError
from proxy.models import DispatchRequest, DispatchResponse
from proxy.warnings import agent_warning

logger = logging.getLogger("devstack.proxy")
router = APIRouter(prefix="/api", tags=["dispatch"])


def agent_name_for(settings: Settings, requested: str | None) -> str:
    """The agent name to dispatch: the request's, else LIVEKIT_AGENT_NAME; never empty."""
    name = settings.livekit_agent_name if requested is None else requested
    if not name:
        raise ApiError(
            422,
            "no_agent_name",
            "agent_name is empty: an unnamed worker is dispatched automatically into every "
            "new room and can never be dispatched explicitly",
            "Pass agent_name, or set LIVEKIT_AGENT_NAME in .env (read by worker and proxy).",
        )
    return name


@router.post("/dispatch-agent", response_model=DispatchResponse)
async def dispatch_agent(
    request: Request, body: DispatchRequest, dispatcher: DispatcherDep, settings: SettingsDep
) -> DispatchResponse:
    """Dispatch the agent into a room (created if needed). Idempotent per room and agent
    name while that agent is pending or present; dispatches again once it has left."""
    agent_name = agent_name_for(settings, body.agent_name)
    outcome = await dispatcher.ensure(body.room, agent_name, body.metadata)
    warning = await agent_warning(request.app.state.registry, settings, agent_name)
    if warning:
        logger.warning("dispatch %s: %s", outcome.dispatch_id, warning)
    return DispatchResponse(
        success=True,
        room=body.room,
        dispatch_id=outcome.dispatch_id,
        agent_name=agent_name,
        room_existed=outcome.room_existed,
        already_dispatched=outcome.already_dispatched,
        message=outcome.message,
        replaced_dispatch_id=outcome.replaced_dispatch_id,
        warning=warning,
    )
