"""The SDK's own floor: livekit.rtc alone, with no livekit-agents and no dispatch, N rooms
joining at once in one process and the same N split over two.

Each room connects and then sets one attribute, which is what makes an agent visible; the
time is from the common start until that update is acknowledged. An agent worker that runs
its jobs as threads holds every room in one process, so this says how much of a burst's
latency the SDK costs before any of ours: the Python SDK hands every event of every room of
a process to every room of that process."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from typing import Any

from livekit import api, rtc

from bench.measure import Target
from bench.spawned import SPAWN, gather, send
from bench.summary import percentile

RESULT_WAIT_SECONDS = 120
START_WAIT_SECONDS = 60


def _token(t: Target, room: str) -> str:
    grants = api.VideoGrants(room_join=True, room=room, can_update_own_metadata=True)
    return (
        api.AccessToken(t.api_key, t.api_secret)
        .with_identity("sdk-floor")
        .with_grants(grants)
        .to_jwt()
    )


async def _rooms(t: Target, count: int, barrier: threading.Barrier) -> list[float | None]:
    """`count` rooms, each connected then given one attribute; seconds each took, or None."""
    names = [f"bench-sdk-{uuid.uuid4().hex[:8]}" for _ in range(count)]
    rooms = [rtc.Room() for _ in names]
    tokens = [_token(t, name) for name in names]
    await asyncio.to_thread(barrier.wait, START_WAIT_SECONDS)
    started = time.perf_counter()

    async def one(room: rtc.Room, token: str) -> float | None:
        try:
            await room.connect(t.url, token)
            await room.local_participant.set_attributes({"devstack.sdk_floor": "1"})
        except Exception:
            return None
        return time.perf_counter() - started

    try:
        return list(
            await asyncio.gather(*(one(r, tok) for r, tok in zip(rooms, tokens, strict=True)))
        )
    finally:
        with contextlib.suppress(Exception):
            await asyncio.gather(*(r.disconnect() for r in rooms))


def _main(t: Target, count: int, barrier: threading.Barrier, results: Any) -> None:
    send(results, asyncio.run(_rooms(t, count, barrier)))


def samples(t: Target, rooms: int, processes: int) -> list[float]:
    """Seconds each of `rooms` rooms at once, over `processes` fresh processes, took to
    connect and set its attribute (a room that failed is left out)."""
    barrier = SPAWN.Barrier(processes)
    shares = [(t, rooms // processes + (i < rooms % processes), barrier) for i in range(processes)]
    what = f"livekit.rtc alone ({rooms} rooms over {processes})"
    return [s for part in gather(_main, shares, what, RESULT_WAIT_SECONDS) for s in part if s]


def measure(t: Target, rooms: int, processes: int) -> dict[str, Any]:
    """`rooms` rooms at once over `processes` fresh processes."""
    ms = sorted(s * 1000 for s in samples(t, rooms, processes))
    return {
        "rooms": rooms,
        "processes": processes,
        "done": len(ms),
        "p50_ms": round(percentile(ms, 50), 1) if ms else None,
        "p95_ms": round(percentile(ms, 95), 1) if ms else None,
    }


def floor(t: Target, rooms: int, affinity_ms: float, repeats: int = 1) -> dict[str, Any]:
    """The floor of `rooms` joins at once, measured now on this server: the job request's
    affinity short-circuit (`affinity_ms`, psrpc's, not configurable) plus livekit.rtc
    alone connecting that many rooms in one process and setting the attribute that makes
    an agent visible, as one worker holds its jobs' rooms. `repeats` rounds are pooled."""
    ms = sorted(s * 1000 for _ in range(repeats) for s in samples(t, rooms, 1))
    sdk50, sdk95 = percentile(ms, 50), percentile(ms, 95)
    return {
        "rooms": rooms,
        "samples": len(ms),
        "sdk_p50_ms": round(sdk50, 1) if sdk50 is not None else None,
        "sdk_p95_ms": round(sdk95, 1) if sdk95 is not None else None,
        "p50_ms": round(affinity_ms + sdk50, 1) if sdk50 is not None else None,
        "p95_ms": round(affinity_ms + sdk95, 1) if sdk95 is not None else None,
    }
