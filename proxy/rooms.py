"""Room state as a user needs to see it: who is in the room, which dispatches exist,
and which of them ever got a job."""

from __future__ import annotations

import time
from typing import Any

from livekit import api

AGENT_KIND = api.ParticipantInfo.Kind.AGENT
# The server stamps this attribute on every agent participant it admits.
AGENT_NAME_ATTRIBUTES = ("lk.agent_name", "lk.agent.name")


def agent_name_of(participant: api.ParticipantInfo) -> str | None:
    """The agent name of an AGENT participant, None for anyone else."""
    if participant.kind != AGENT_KIND:
        return None
    for key in AGENT_NAME_ATTRIBUTES:
        if key in participant.attributes:
            return participant.attributes[key]
    return ""


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


def dispatch_view(d: api.AgentDispatch, now_ns: int | None = None) -> dict[str, Any]:
    now_ns = now_ns or time.time_ns()
    return {
        "dispatch_id": d.id,
        "agent_name": d.agent_name,
        "metadata": d.metadata,
        "age_seconds": round((now_ns - d.state.created_at) / 1e9, 1)
        if d.state.created_at
        else None,
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


async def find_room(lk: api.LiveKitAPI, room: str) -> api.Room | None:
    rooms = await lk.room.list_rooms(api.ListRoomsRequest(names=[room]))
    return rooms.rooms[0] if rooms.rooms else None


async def room_state(
    lk: api.LiveKitAPI, room: str
) -> tuple[list[api.ParticipantInfo], list[api.AgentDispatch]]:
    participants = await lk.room.list_participants(api.ListParticipantsRequest(room=room))
    dispatches = await lk.agent_dispatch.list_dispatch(room)
    return list(participants.participants), list(dispatches)


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
    return {
        **room_view(info),
        "participants": [participant_view(p) for p in participants],
        "agents": [p.identity for p in participants if p.kind == AGENT_KIND],
        "dispatches": [dispatch_view(d) for d in dispatches],
    }
