"""A burst's clients spread over several processes, two per process. Real people have a
device each; the Python SDK makes the rooms of one process wait for each other (it hands
every event of every room to every room of its process, and its native side answers one
room's requests later the more rooms connect in the same process). With 10 clients per
process, the step from the agent's state update to the person seeing it grew from about
10 ms alone to 1.7 s (p50) at 20 rooms at once: the benchmark was timing its own clients.
Two per process keeps 50 people to 25 processes. Every process connects its clients, they
all wait for one another, and then every dispatch goes out."""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
from typing import Any

from bench.measure import API_TIMEOUT_SECONDS, Join, Target, join_burst
from bench.spawned import SPAWN, gather, send
from devstack.livekit import api_client

ROOMS_PER_PROCESS = 2
CONNECT_WAIT_SECONDS = 60  # for every process's clients to be in their rooms
RESULT_WAIT_SECONDS = 180


def burst(http_url: str, target: Target, rooms: list[str]) -> list[Join]:
    """Explicit dispatches into `rooms` at once, each with a person already in it."""
    count = max(1, math.ceil(len(rooms) / ROOMS_PER_PROCESS))
    if count == 1:
        return asyncio.run(_shard(http_url, target, rooms, None))
    barrier = SPAWN.Barrier(count)
    shards = [(http_url, target, rooms[i::count], barrier) for i in range(count)]
    what = f"the {len(rooms)}-room burst's clients"
    return [j for joins in gather(_main, shards, what, RESULT_WAIT_SECONDS) for j in joins]


def _main(
    http_url: str, target: Target, rooms: list[str], barrier: threading.Barrier, results: Any
) -> None:
    send(results, asyncio.run(_shard(http_url, target, rooms, barrier)))


async def _shard(
    http_url: str, target: Target, rooms: list[str], barrier: threading.Barrier | None
) -> list[Join]:
    async def everyone_connected() -> None:
        if barrier is None:
            return
        # A process that failed to connect in time breaks the barrier; the others dispatch.
        with contextlib.suppress(threading.BrokenBarrierError):
            await asyncio.to_thread(barrier.wait, CONNECT_WAIT_SECONDS)

    async with api_client(http_url, target.api_key, target.api_secret, API_TIMEOUT_SECONDS) as lk:
        return await join_burst(target, lk, rooms, everyone_connected)
