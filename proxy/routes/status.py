"""GET /api/health, POST /api/diagnose, GET /api/config: is everything up, and why did
the agent not join (the same engine as `devstack doctor`)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from fastapi import APIRouter, Request
from livekit import api

from devstack.cluster import nodes_view, redis_answers
from devstack.crash import agent_crash
from devstack.inference_status import inference_status
from devstack.livekit import SERVER_ERRORS
from devstack.rooms import AGENT_WAIT_SECONDS
from devstack.state import PROCESSES, PROJECTS, read_states
from devstack.worker_health import (
    default_agent_name,
    fetch_worker_status,
    pool_statuses,
    registered_name,
)
from doctor.diagnose import diagnose
from doctor.gather import Target, gather
from proxy.deps import LiveKit, SettingsDep
from proxy.errors import livekit_refused
from proxy.models import DiagnoseRequest

logger = logging.getLogger("devstack.proxy")
router = APIRouter(prefix="/api", tags=["status"])


@router.get("/health")
async def health(request: Request, lk: LiveKit, settings: SettingsDep) -> dict[str, Any]:
    """Is livekit-server up with our keys, is a worker up, and do the agent names match?"""
    server: dict[str, Any] = {
        "url": settings.livekit_url,
        "reachable": False,
        "keys_accepted": False,
    }
    try:
        rooms = await lk.room.list_rooms(api.ListRoomsRequest())
        server.update(reachable=True, keys_accepted=True, num_rooms=len(rooms.rooms))
    except SERVER_ERRORS as exc:
        server.update(reachable=True, detail=livekit_refused(settings.livekit_url, exc).detail)
    except (aiohttp.ClientError, TimeoutError) as exc:
        server["detail"] = f"{type(exc).__name__}: {exc}"
    worker, pool, inference = await asyncio.gather(
        fetch_worker_status(settings.worker_health_url),
        pool_statuses(settings.state_dir),
        inference_status(settings),
    )
    expected = settings.livekit_agent_name
    if settings.own_agent:  # your own worker names itself; the pool just told us how
        expected = registered_name(pool) or expected
    registry = request.app.state.registry
    known = registry.server_started_at is not None
    processes = read_states(settings.state_dir, PROCESSES)
    return {
        "livekit": server,
        "worker": worker.to_dict(),
        "expected_agent_name": expected,
        "names_match": worker.agent_name == expected if worker.reachable else None,
        # From the server's own log: registered, not merely running.
        "registered": {
            "known": known,
            "source": str(settings.server_log_path),
            "expected_agent_registered": bool(registry.named(expected)) if known else None,
            "workers": [w.to_dict() for w in registry.workers.values()],
        },
        # Every worker of the pool the stack runs, by its health server.
        "pool": [
            {"name": w["name"], "agent_file": w.get("agent_file"), **status.to_dict()}
            for w, status in pool
        ],
        # The supervisor's view: "restarting" while a crashed process waits for its restart,
        # "crash-looping" when it failed the same way twice at start (with why, and the fix).
        "processes": processes,
        "agent_crash": agent_crash(processes),
        # This proxy: when it started, and how many followed dispatches it resumed from the
        # state dir (a restart after a crash loses none); its restarts are in `processes`.
        "proxy": {
            "started_at": request.app.state.started_at,
            "resumed_deliveries": request.app.state.resumed,
        },
        # LiveKit Inference: the stack's offline gateway (and what serves each kind of
        # model), LiveKit Cloud, or off (DEVSTACK_INFERENCE).
        "inference": inference,
        # Your own agent project (AGENT_DIR): its kind, Python, livekit-agents, model files.
        "projects": read_states(settings.state_dir, PROJECTS),
        # Several nodes (LIVEKIT_NODES): each node, the workers on it, and the shared Redis.
        "nodes": await nodes_view(settings, registry),
        "redis": {
            "address": settings.livekit_redis,
            "reachable": await redis_answers(settings.livekit_redis),
        }
        if settings.livekit_redis
        else None,
    }


@router.post("/diagnose")
async def diagnose_room(body: DiagnoseRequest, settings: SettingsDep) -> dict[str, Any]:
    """Why did the agent not join? Checks with evidence and a one-sentence verdict
    (the same engine as `devstack doctor`)."""
    name = body.agent_name
    target = Target.of_stack(
        settings,
        agent_name=await default_agent_name(settings) if name is None else name,
        room=body.room,
        token=body.token,
        probe=body.probe,
    )
    result = diagnose(await gather(target), settings.agent_load_threshold)
    logger.info("diagnosis: room=%s cause=%s: %s", body.room or "-", result.cause, result.verdict)
    return result.to_dict()


@router.get("/config")
async def page_config(settings: SettingsDep) -> dict[str, Any]:
    """What the debug page needs to start: the server URL and the expected agent name."""
    return {
        "server_url": settings.livekit_url,
        "agent_name": await default_agent_name(settings),
        "agent_wait_timeout": AGENT_WAIT_SECONDS,
    }
