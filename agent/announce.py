"""Make the agent visible to the room the moment it has joined, with its dispatch timeline.

livekit-server tells the other participants about a participant that publishes nothing
only in its batch every 3 s (PushAndDequeueUpdates, pkg/rtc/room.go), but sends attribute
changes at once. So right after `ctx.connect()` the agent sets its state ("initializing")
and, in the same update, the stamps of each step of its dispatch: whoever sees the agent
has its timeline.

Announcing it earlier, through the server API while `ctx.connect()` still runs ICE and
DTLS, was measured (a median join of 252 ms instead of 340 ms) and not kept: an agent
visible before its connection is up can be removed in that window, and the SDK's connect
retry then brings it back, or fails in a way that ends the worker's process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TypeVar

from livekit.agents import JobContext

from agent.signal_socket import send_immediately
from devstack.rooms import STATE_ATTRIBUTE
from devstack.timeline import TIMELINE_ATTRIBUTE, encode


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


T = TypeVar("T")


async def uncancellable(step: Awaitable[T]) -> T:
    """`step` to its end even if the caller is cancelled meanwhile; the cancel is then
    passed on. For `ctx.connect()`: the SDK's native side waits for the Python side to
    acknowledge a room it has connected (`ReadyForRoomEventRequest`), and a `connect()`
    cancelled in between never does, so the native side ends the whole process, every job
    of the worker with it ("timed out waiting for ReadyForRoomEventRequest after
    ConnectCallback"). It happened in bursts: a room ended while its agent's connect was
    still being retried, livekit-agents cancelled the job 15 s later, and the retry then
    succeeded."""
    task = asyncio.ensure_future(step)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)  # the step's own error propagates from here
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return task.result()


async def connect_announced(ctx: JobContext, server_url: str) -> None:
    """ctx.connect(), then the state and the timeline in one attribute update, sent at once
    (agent/signal_socket.py)."""
    entered = time.time()
    await uncancellable(ctx.connect())
    connected = time.time()
    send_immediately(server_url)
    timeline = encode(stamps(ctx, entered=entered, connected=connected))
    await ctx.room.local_participant.set_attributes(
        {STATE_ATTRIBUTE: "initializing", TIMELINE_ATTRIBUTE: timeline}
    )
