"""Make the agent visible to the room as soon as livekit-server has it in the room, not only
once its WebRTC connection is up, and carry its dispatch timeline with it.

`ctx.connect()` returns after the signal join *and* ICE and DTLS, which is most of the time
an agent takes to join, and under a burst of rooms on two cores most of a second. The
server has the participant from the signal join on, but it tells the other participants
about one that publishes nothing only in its batch every 3 s (PushAndDequeueUpdates,
pkg/rtc/room.go). An attribute change is sent at once. So while the job connects, it sets
its state ("initializing") and its timeline through the server API the moment the server
knows the participant; people in the room then see an initializing agent, which is what it
is. If the connection is up first, the agent's own update after connecting does the same."""

from __future__ import annotations

import asyncio
import time

from livekit import api
from livekit.agents import JobContext

from agent.state import STATE_ATTRIBUTE
from devstack.timeline import TIMELINE_ATTRIBUTE, encode

FIRST_TRY_SECONDS = 0.01
LONGEST_WAIT_SECONDS = 0.16  # backoff cap: a burst of 50 jobs must not flood the server's API


def stamps(ctx: JobContext, **more: float) -> dict[str, float]:
    """When the worker got, accepted, was assigned and launched this job (livekit-agents keeps
    them on the job's RunningJobInfo, which JobContext holds privately), plus `more`."""
    info = getattr(ctx, "_info", None)
    return {
        "received": getattr(info, "received_at", 0.0),
        "accepted": getattr(info, "accepted_at", 0.0),
        "assigned": getattr(info, "assigned_at", 0.0),
        "launched": getattr(info, "launched_at", 0.0),
        **more,
    }


async def _announce(ctx: JobContext, entered: float, connected: asyncio.Event) -> float:
    """UpdateParticipant as soon as the participant exists, until the connection is up;
    returns when it was sent, or 0 when it was not."""
    identity = ctx.token_claims().identity
    wait = FIRST_TRY_SECONDS
    while not connected.is_set():
        now = time.time()
        attributes = {
            STATE_ATTRIBUTE: "initializing",
            TIMELINE_ATTRIBUTE: encode(stamps(ctx, entered=entered, announced=now)),
        }
        try:
            await ctx.api.room.update_participant(
                api.UpdateParticipantRequest(
                    room=ctx.job.room.name, identity=identity, attributes=attributes
                )
            )
            return now
        except api.TwirpError as exc:
            if exc.code != api.TwirpErrorCode.NOT_FOUND:
                return 0.0  # the agent's own update after connecting announces it instead
        except Exception:  # the API unreachable: same fallback, nothing to fail for
            return 0.0
        await asyncio.sleep(wait)
        wait = min(wait * 2, LONGEST_WAIT_SECONDS)
    return 0.0


async def connect_announced(ctx: JobContext) -> None:
    """ctx.connect(), with the agent announced to the room while it connects, then the full
    timeline (now with `connected`) set by the agent itself."""
    entered = time.time()
    connected = asyncio.Event()
    announcing = asyncio.create_task(_announce(ctx, entered, connected))
    try:
        await ctx.connect()
    finally:
        connected.set()
        # An update still in flight lands before the agent's own below, never after it.
        announced = await announcing
    timeline = encode(stamps(ctx, entered=entered, announced=announced, connected=time.time()))
    # Setting the state again is harmless when the early update landed, and is what
    # announces the agent when it did not.
    await ctx.room.local_participant.set_attributes(
        {STATE_ATTRIBUTE: "initializing", TIMELINE_ATTRIBUTE: timeline}
    )
