"""Explicit agent dispatch that never launches a second agent for the same ask.

The server dedupes nothing: every CreateDispatch starts another agent. It also keeps a
dispatch that no worker took (zero jobs) forever without retrying it. So before creating
one, look at the room: an agent of that name already in it, or a dispatch young enough to
still be on its way, means "already dispatched"; anything else is dispatched (again)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from livekit import api

from proxy.rooms import agent_name_of, find_room, room_state

logger = logging.getLogger("devstack.proxy.dispatch")
# An agent normally joins within a second or two of its dispatch; a cold job process
# (AGENT_IDLE_PROCESSES=0) takes several. Within this window a dispatch counts as pending.
PENDING_SECONDS = 15.0


@dataclass
class DispatchOutcome:
    dispatch_id: str
    room_existed: bool
    already_dispatched: bool
    message: str
    replaced_dispatch_id: str | None = None


_locks: dict[tuple[str, str], asyncio.Lock] = {}


def _age_seconds(d: api.AgentDispatch) -> float:
    return (time.time_ns() - d.state.created_at) / 1e9


async def ensure_dispatch(
    lk: api.LiveKitAPI, room: str, agent_name: str, metadata: str
) -> DispatchOutcome:
    """Return the live dispatch of `agent_name` in `room`, creating one only when needed."""
    # Two clicks on "connect" arrive together: serialize per room and agent name.
    lock = _locks.setdefault((room, agent_name), asyncio.Lock())
    async with lock:
        return await _ensure_dispatch(lk, room, agent_name, metadata)


async def _ensure_dispatch(
    lk: api.LiveKitAPI, room: str, agent_name: str, metadata: str
) -> DispatchOutcome:
    room_existed = await find_room(lk, room) is not None
    stale: list[api.AgentDispatch] = []
    if room_existed:
        participants, dispatches = await room_state(lk, room)
        mine = sorted(
            (d for d in dispatches if d.agent_name == agent_name), key=lambda d: d.state.created_at
        )
        present = [p.identity for p in participants if agent_name_of(p) == agent_name]
        if present:
            return DispatchOutcome(
                mine[-1].id if mine else "",
                True,
                True,
                f"Agent {agent_name} is already in room {room} as {present[0]}",
            )
        pending = [d for d in mine if _age_seconds(d) < PENDING_SECONDS]
        if pending:
            age = _age_seconds(pending[-1])
            return DispatchOutcome(
                pending[-1].id,
                True,
                True,
                f"Agent {agent_name} was dispatched to room {room} {age:.1f} s ago; on its way",
            )
        stale = mine

    created = await lk.agent_dispatch.create_dispatch(
        api.CreateAgentDispatchRequest(agent_name=agent_name, room=room, metadata=metadata)
    )
    message = f"Agent dispatched to room {room}"
    replaced = stale[-1].id if stale else None
    if stale:
        why = "its agent left" if stale[-1].state.jobs else "no worker ever took it"
        message += f" again: the earlier dispatch {replaced} has no agent in the room ({why})"
        # Keep the room's dispatch list honest: the old dispatch will never produce an agent.
        for d in stale:
            await lk.agent_dispatch.delete_dispatch(d.id, room)
    logger.info(
        "dispatch created: room=%s agent_name=%s dispatch_id=%s room_existed=%s replaced=%s",
        room,
        agent_name,
        created.id,
        room_existed,
        replaced or "-",
    )
    return DispatchOutcome(created.id, room_existed, False, message, replaced)
