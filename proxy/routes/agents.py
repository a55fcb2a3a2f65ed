"""GET /api/agents and POST /api/switch-agent: every agent name a worker has registered
with the stack's server (whoever started it), and switching a live room from one agent to
another without the people in it noticing more than the voice changing."""

from __future__ import annotations

import contextlib
import difflib
import logging
import time
from typing import Any

from fastapi import APIRouter, Request
from livekit import api

from devstack.errors import ErrorBody
from devstack.livekit import SERVER_ERRORS
from devstack.rooms import AGENT_WAIT_SECONDS, agent_name_of, find_room, wait_for_agent
from devstack.worker_health import pool_statuses
from proxy.deps import DispatcherDep, LiveKit, SettingsDep, WatcherDep
from proxy.errors import ApiError
from proxy.models import SwitchRequest

logger = logging.getLogger("devstack.proxy.agents")
router = APIRouter(prefix="/api", tags=["agents"])


@router.get("/agents")
async def list_agents(request: Request, settings: SettingsDep) -> dict[str, Any]:
    """Every agent name with a worker registered on the server now, from the server's log:
    per worker its id, when it registered and the jobs the server gave it."""
    registry = request.app.state.registry
    # The stack's own workers also tell their load and running jobs (their health servers).
    ours = [h for _, h in await pool_statuses(settings.state_dir) if h.reachable]
    agents = [
        {
            "agent_name": name,
            "workers": [w.to_dict() for w in registry.named(name)],
            "started_by_stack": any(h.agent_name == name for h in ours),
            "pool": [
                {"url": h.url, "load": h.load, "active_jobs": h.active_jobs}
                for h in ours
                if h.agent_name == name
            ],
        }
        for name in registry.agent_names()
    ]
    return {
        "known": registry.server_started_at is not None,
        "source": str(settings.server_log_path),
        "agents": agents,
    }


@router.post(
    "/switch-agent",
    responses={
        409: {"model": ErrorBody, "description": "No worker of that name is registered"},
        504: {"model": ErrorBody, "description": "The new agent did not join in time"},
    },
)
async def switch_agent(
    body: SwitchRequest,
    request: Request,
    lk: LiveKit,
    dispatcher: DispatcherDep,
    watcher: WatcherDep,
) -> dict[str, Any]:
    """Bring `agent_name` into the room, and once it is there let the current agent go: its
    dispatch is deleted, so the server ends its job and it leaves cleanly. Refused before
    anything changes when no worker has registered that name."""
    registry = request.app.state.registry
    if registry.server_started_at is None:
        raise ApiError(
            409,
            "agents_unknown",
            "the proxy cannot see which agents are registered (no livekit-server log)",
            "Run the server with scripts/livekit-server (make dev), which keeps its log.",
        )
    if not registry.named(body.agent_name):
        close = difflib.get_close_matches(body.agent_name, registry.agent_names(), n=1)
        raise ApiError(
            409,  # valid, but not now: no worker of that name is registered
            "agent_not_registered",
            f"no worker named {body.agent_name!r} is registered; nothing was changed",
            f"Did you mean {close[0]!r}?" if close else "GET /api/agents lists the names.",
        )
    if await find_room(lk, body.room) is None:
        raise ApiError(
            404, "room_not_found", f"room {body.room!r} does not exist", "Connect to it first."
        )
    listing = await lk.room.list_participants(api.ListParticipantsRequest(room=body.room))
    present = {p.identity: agent_name_of(p) for p in listing.participants}
    leaving = {
        name
        for name in present.values()
        if name is not None
        and name != body.agent_name
        and (body.from_agent_name is None or name == body.from_agent_name)
    }
    started = time.monotonic()
    outcome = await dispatcher.ensure(body.room, body.agent_name, "")
    found = await wait_for_agent(lk, body.room, body.agent_name, AGENT_WAIT_SECONDS)
    if found is None:
        if not outcome.already_dispatched:
            # Leave the room as it was: the new dispatch must not bring a late second agent.
            watcher.forget(body.room, body.agent_name)
            with contextlib.suppress(*SERVER_ERRORS):
                await lk.agent_dispatch.delete_dispatch(outcome.dispatch_id, body.room)
        raise ApiError(
            504,
            "switch_timed_out",
            f"{body.agent_name!r} did not join within {AGENT_WAIT_SECONDS:.0f} s; the current "
            "agent stays",
            "See the worker's log, or run devstack doctor for this room.",
        )
    joined_ms = (time.monotonic() - started) * 1000
    removed = []
    for d in await lk.agent_dispatch.list_dispatch(body.room):
        if d.agent_name in leaving:
            watcher.forget(body.room, d.agent_name)  # leaving on purpose: not to be replaced
            with contextlib.suppress(*SERVER_ERRORS):  # already gone with its job
                await lk.agent_dispatch.delete_dispatch(d.id, body.room)
            removed.append(d.id)
    logger.info(
        "switched room=%s from %s to %s (%s) in %d ms; removed dispatches %s",
        body.room,
        sorted(leaving) or "-",
        body.agent_name,
        outcome.dispatch_id,
        joined_ms,
        removed or "-",
    )
    return {
        "room": body.room,
        "from": sorted(leaving),
        "to": body.agent_name,
        "dispatch_id": outcome.dispatch_id,
        "joined_after_ms": round(joined_ms),
        "removed_dispatch_ids": removed,
    }
