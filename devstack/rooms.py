"""Room facts every process reads the same way: which participants are agents and under
which name, which dispatches exist, when a dispatch counts as one nobody took, and the
one loop that waits for an agent to appear."""

from __future__ import annotations

import asyncio
import time

from livekit import api

from devstack.livekit import API_ERRORS

AGENT_KIND = api.ParticipantInfo.Kind.AGENT
# The server stamps this attribute on every agent participant it admits.
AGENT_NAME_ATTRIBUTES = ("lk.agent_name", "lk.agent.name")
# The agent's state as AgentSession publishes it and front ends read it ("initializing",
# "listening", ...); setting it is also what makes an agent visible at once.
STATE_ATTRIBUTE = "lk.agent.state"
# A dispatch's job shows up in its state a few seconds after the worker accepted it, and
# a cold job process (AGENT_IDLE_PROCESSES=0) takes several seconds to join. Until a
# dispatch is this old, no agent and no job means "on its way"; after it, "nobody took
# it". The proxy (idempotent dispatch) and the doctor (verdict) share this one number.
UNTAKEN_AFTER_SECONDS = 10.0
# How long front ends wait for an agent: @livekit/components-react gives up after 20 s.
AGENT_WAIT_SECONDS = 20.0
POLL_SECONDS = 0.1


def agent_name_of(participant: api.ParticipantInfo) -> str | None:
    """The agent name of an AGENT participant, None for anyone else."""
    if participant.kind != AGENT_KIND:
        return None
    for key in AGENT_NAME_ATTRIBUTES:
        if key in participant.attributes:
            return participant.attributes[key]
    return ""


def dispatch_age(d: api.AgentDispatch, now_ns: int | None = None) -> float:
    """Seconds since the dispatch was created."""
    return ((now_ns or time.time_ns()) - d.state.created_at) / 1e9


async def find_room(lk: api.LiveKitAPI, room: str) -> api.Room | None:
    rooms = await lk.room.list_rooms(api.ListRoomsRequest(names=[room]))
    return rooms.rooms[0] if rooms.rooms else None


async def room_state(
    lk: api.LiveKitAPI, room: str
) -> tuple[list[api.ParticipantInfo], list[api.AgentDispatch]]:
    participants = await lk.room.list_participants(api.ListParticipantsRequest(room=room))
    dispatches = await lk.agent_dispatch.list_dispatch(room)
    return list(participants.participants), list(dispatches)


async def agents_in(lk: api.LiveKitAPI, room: str, agent_name: str) -> list[api.ParticipantInfo]:
    """The agents named `agent_name` in `room` now ([] while the room is not visible yet)."""
    try:
        listing = await lk.room.list_participants(api.ListParticipantsRequest(room=room))
    except API_ERRORS:
        return []  # the room may not exist yet, or the server blinked
    return [p for p in listing.participants if agent_name_of(p) == agent_name]


async def wait_for_agent(
    lk: api.LiveKitAPI,
    room: str,
    agent_name: str,
    timeout: float,
    exclude: set[str] | frozenset[str] = frozenset(),
) -> tuple[api.ParticipantInfo, float] | None:
    """The first agent named `agent_name` to be in `room` (not one of `exclude`) and the
    seconds it took, or None at the deadline."""
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < timeout:
        fresh = [p for p in await agents_in(lk, room, agent_name) if p.identity not in exclude]
        if fresh:
            return fresh[0], elapsed
        await asyncio.sleep(POLL_SECONDS)
    return None
