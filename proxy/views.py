"""Room state as the API shows it: who is in the room (with kind), which dispatches
exist, and which of them ever got a job."""

from __future__ import annotations

import time
from typing import Any

from livekit import api

from devstack.rooms import AGENT_KIND, dispatch_age, find_room, room_state


def participant_view(p: api.ParticipantInfo) -> dict[str, Any]:
    return {
        "identity": p.identity,
        "name": p.name,
        "kind": api.ParticipantInfo.Kind.Name(p.kind),
        "state": api.ParticipantInfo.State.Name(p.state),
        "joined_at": p.joined_at,
        "attributes": dict(p.attributes),
        "tracks": [
            {
                "sid": t.sid,
                "type": api.TrackType.Name(t.type),
                "source": api.TrackSource.Name(t.source),
            }
            for t in p.tracks
        ],
    }


def dispatch_view(d: api.AgentDispatch, now_ns: int) -> dict[str, Any]:
    return {
        "dispatch_id": d.id,
        "agent_name": d.agent_name,
        "metadata": d.metadata,
        "age_seconds": round(dispatch_age(d, now_ns), 1) if d.state.created_at else None,
        "automatic": d.agent_name == "",
        "jobs": [
            {
                "job_id": j.id,
                "status": api.JobStatus.Name(j.state.status),
                "participant_identity": j.state.participant_identity,
                "worker_id": j.state.worker_id,
                "error": j.state.error,
            }
            for j in d.state.jobs
        ],
    }


def room_view(room: api.Room) -> dict[str, Any]:
    return {
        "name": room.name,
        "sid": room.sid,
        "num_participants": room.num_participants,
        "created_at": room.creation_time,
        "empty_timeout": room.empty_timeout,
        "departure_timeout": room.departure_timeout,
        "metadata": room.metadata,
    }


async def describe_room(lk: api.LiveKitAPI, room: str) -> dict[str, Any] | None:
    """Room, participants (with kind) and dispatches (with jobs); None when it does not exist."""
    info = await find_room(lk, room)
    if info is None:
        return None
    participants, dispatches = await room_state(lk, room)
    now_ns = time.time_ns()
    return {
        **room_view(info),
        "participants": [participant_view(p) for p in participants],
        "agents": [p.identity for p in participants if p.kind == AGENT_KIND],
        "dispatches": [dispatch_view(d, now_ns) for d in dispatches],
    }
