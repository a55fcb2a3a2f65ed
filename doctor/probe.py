"""The live probe: dispatch the agent into a throw-away room and time its join."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass

from livekit import api

from devstack.rooms import STATE_ATTRIBUTE, agents_in, wait_for_agent

# An agent that publishes its state is ready once it has left "initializing"; one that
# does not (many user agents) is given this long after its join to finish starting.
SETTLE_SECONDS = 3.0


@dataclass
class ProbeFacts:
    room: str
    joined: bool
    latency_ms: float | None = None
    detail: str = ""
    # Whether the agent published a track or set its state while the probe watched; one
    # that does neither is shown to other participants only in the server's 3 s batch.
    announced: bool | None = None


async def _settle(lk: api.LiveKitAPI, room: str, agent_name: str) -> bool:
    """Wait until the probe agent has finished starting, so that closing the room ends its
    job cleanly instead of cutting through its start-up (publishing a track, say). Returns
    whether it announced itself (a track or a state) meanwhile."""
    deadline = time.monotonic() + SETTLE_SECONDS
    announced = False
    while time.monotonic() < deadline:
        agents = await agents_in(lk, room, agent_name)
        states = [a.attributes.get(STATE_ATTRIBUTE) for a in agents]
        announced = announced or any(states) or any(a.tracks for a in agents)
        if any(s and s != "initializing" for s in states):
            return True
        await asyncio.sleep(0.1)
    return announced


async def run_probe(lk: api.LiveKitAPI, agent_name: str, timeout: float) -> ProbeFacts:
    """Dispatch `agent_name` into a throw-away room and time its arrival; always cleans up."""
    room = f"devstack-probe-{uuid.uuid4().hex[:8]}"
    await lk.room.create_room(api.CreateRoomRequest(name=room, empty_timeout=30))
    try:
        started = time.monotonic()
        await lk.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name=agent_name, room=room)
        )
        found = await wait_for_agent(lk, room, agent_name, timeout)
        if found is None:
            return ProbeFacts(
                room=room, joined=False, detail=f"no agent {agent_name!r} within {timeout:.0f} s"
            )
        latency = (time.monotonic() - started) * 1000
        announced = await _settle(lk, room, agent_name)
        return ProbeFacts(room=room, joined=True, latency_ms=round(latency), announced=announced)
    finally:
        with contextlib.suppress(api.TwirpError):
            await lk.room.delete_room(api.DeleteRoomRequest(room=room))
