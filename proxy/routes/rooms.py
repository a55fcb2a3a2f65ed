"""GET /api/rooms and /api/rooms/{room}: rooms, participants with kind, dispatches with
jobs; GET /api/rooms/{room}/job-failures: what the worker's log says of the room's jobs
(failures, and notes that block nothing), with no call to the server (the page asks for
it every few seconds)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from livekit import api

from devstack.cluster import created_again, node_answers
from devstack.worker_log import WorkerLogs
from proxy.deps import LiveKit, SettingsDep
from proxy.errors import ApiError
from proxy.models import InputError, check_room
from proxy.models_rooms import JobFailuresResponse
from proxy.views import describe_room, room_view

router = APIRouter(prefix="/api/rooms", tags=["rooms"])


@router.get("")
async def list_rooms(lk: LiveKit) -> dict[str, Any]:
    """Every active room."""
    rooms = await lk.room.list_rooms(api.ListRoomsRequest())
    return {"rooms": [room_view(r) for r in rooms.rooms]}


@router.get("/{room}")
async def get_room(
    room: str, request: Request, lk: LiveKit, settings: SettingsDep
) -> dict[str, Any]:
    """Participants (kind AGENT/STANDARD, attributes, tracks) and dispatches with jobs."""
    name = _room_name(room)
    cluster = len(settings.nodes) > 1
    registry = request.app.state.registry
    node = registry.node_of_room(name) if cluster else None
    urls = dict(settings.nodes)
    if node in urls and not await asyncio.to_thread(node_answers, urls[node]):
        # The other nodes still list a room whose node died (its entry stays in Redis), and
        # asking them about it fails: say it is gone instead.
        return {
            "name": name,
            "node": node,
            "node_reachable": False,
            "participants": [],
            "agents": [],
            "dispatches": [],
            "warning": f"node {node} does not answer: this room is gone with it, though the "
            "other nodes still list it; join a new room",
        }
    described = await describe_room(lk, name)
    if described is None:
        raise ApiError(
            404,
            "room_not_found",
            f"room {name!r} does not exist on {settings.livekit_url}",
            "A room exists while someone is in it, or until its empty/departure timeout ends.",
        )
    # What the stack's workers logged about this room's jobs since it was created: a job
    # that crashed, lacked its model files, or whose session fails, and the notes (a plugin
    # that needs LiveKit Cloud); the page shows them.
    since = float(described["created_at"] or 0)
    described["job_failures"], described["notes"] = await _job_log(request, name, since)
    if cluster:
        # Several nodes: the room's node (from the allocating node's log) and each agent
        # job's node (its worker's).
        described["node"] = node
        described["node_reachable"] = True if node in urls else None
        earlier = registry.earlier_node_of_room(name)
        if earlier in urls and not await asyncio.to_thread(node_answers, urls[earlier]):
            described["warning"] = (
                f"node {earlier} does not answer: this room ran on it and {created_again(node)}"
            )
        workers = registry.workers
        for d in described["dispatches"]:
            for job in d["jobs"]:
                worker = workers.get(job["worker_id"])
                job["node"] = worker.node if worker else None
    return described


@router.get("/{room}/job-failures", response_model=JobFailuresResponse)
async def get_job_failures(
    room: str,
    request: Request,
    since: Annotated[
        float,
        Query(
            ge=0,
            description="Epoch seconds: only failures logged from then on (the room's "
            "created_at, from GET /api/rooms/{room}, leaves out an earlier room's)",
        ),
    ] = 0,
) -> dict[str, Any]:
    """The room's jobs that crashed, lacked their model files, or whose session fails, from
    the stack's worker logs, read on from where the previous request stopped; and the notes
    on them that block nothing (a plugin that needs LiveKit Cloud and runs without it).
    Asks the server nothing, so a room that ended still answers; [] when no worker log is
    kept."""
    name = _room_name(room)
    failures, notes = await _job_log(request, name, since)
    return {"room": name, "since": since, "job_failures": failures, "notes": notes}


def _room_name(room: str) -> str:
    try:
        return check_room(room)
    except InputError as exc:
        raise ApiError(422, "invalid_request", f"room: {exc}", exc.hint) from None


async def _job_log(
    request: Request, room: str, since: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    logs: WorkerLogs = request.app.state.worker_logs
    # In a thread: the first read of a long log is up to 4 MB (devstack/worker_log.py).
    failures, notes = await asyncio.to_thread(logs.read, room=room, since=since)
    return [f.to_dict() for f in failures], [n.to_dict() for n in notes]
