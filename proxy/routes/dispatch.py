"""POST /api/dispatch-agent: explicit, idempotent dispatch, with a warning when the
worker we can see will not take it."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request

from proxy.deps import DispatcherDep, SettingsDep
from proxy.models import DispatchRequest, DispatchResponse
from proxy.names import agent_name_for
from proxy.warnings import agent_warning

logger = logging.getLogger("devstack.proxy")
router = APIRouter(prefix="/api", tags=["dispatch"])


@router.post("/dispatch-agent", response_model=DispatchResponse)
async def dispatch_agent(
    request: Request, body: DispatchRequest, dispatcher: DispatcherDep, settings: SettingsDep
) -> DispatchResponse:
    """Dispatch the agent into a room (created if needed). Idempotent per room and agent
    name while that agent is pending or present; dispatches again once it has left."""
    agent_name = await agent_name_for(settings, body.agent_name)
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
