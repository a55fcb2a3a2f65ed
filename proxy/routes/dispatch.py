"""POST /api/dispatch-agent: explicit, idempotent dispatch, with a warning when the
worker we can see will not take it."""

from __future__ import annotations

import logging

from fastapi import APIRouter

from devstack.settings import Settings
from devstack.worker_health import WorkerStatus, fetch_worker_status
from proxy.deps import DispatcherDep, SettingsDep
from proxy.errors import ApiError
from proxy.models import DispatchRequest, DispatchResponse

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


def worker_warning(agent_name: str, worker: WorkerStatus) -> str | None:
    """Why a dispatch that the server accepted may still bring no agent, if we can tell."""
    if not worker.reachable:
        return (
            f"no agent worker answers at {worker.url}; unless a worker registered as {agent_name!r} "
            "runs elsewhere, this dispatch keeps 0 jobs and the server never retries it"
        )
    if worker.agent_name != agent_name:
        shown = (
            repr(worker.agent_name) if worker.agent_name else "unnamed (automatic dispatch only)"
        )
        return f"the worker at {worker.url} is registered as {shown}, not {agent_name!r}: no agent will come"
    if not worker.healthy:
        return f"the worker at {worker.url} is unhealthy ({worker.detail}); check its log and keys"
    return None


@router.post("/dispatch-agent", response_model=DispatchResponse)
async def dispatch_agent(
    body: DispatchRequest, dispatcher: DispatcherDep, settings: SettingsDep
) -> DispatchResponse:
    """Dispatch the agent into a room (created if needed). Idempotent per room and agent
    name while that agent is pending or present; dispatches again once it has left."""
    agent_name = agent_name_for(settings, body.agent_name)
    outcome = await dispatcher.ensure(body.room, agent_name, body.metadata)
    warning = worker_warning(agent_name, await fetch_worker_status(settings.worker_health_url))
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
