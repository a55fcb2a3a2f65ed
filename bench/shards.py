"""A burst's clients spread over several processes. The Python SDK hands every event of
every room to every room of its process, so 50 clients in one process spend the cores on
each other's events and see the agent late; real people have a device each. Every process
connects its clients, they all wait for one another, and then every dispatch goes out."""

from __future__ import annotations

import asyncio
import contextlib
import math
import multiprocessing as mp
import os
import queue
import threading
from typing import Any

from livekit import api

from bench.measure import Join, Target, join_burst

ROOMS_PER_PROCESS = 10
CONNECT_WAIT_SECONDS = 60  # for every process's clients to be in their rooms
RESULT_WAIT_SECONDS = 180


def burst(http_url: str, target: Target, rooms: list[str]) -> list[Join]:
    """Explicit dispatches into `rooms` at once, each with a person already in it."""
    count = max(1, math.ceil(len(rooms) / ROOMS_PER_PROCESS))
    if count == 1:
        return asyncio.run(_shard(http_url, target, rooms, None))
    ctx = mp.get_context("spawn")  # a fresh interpreter: no inherited FFI or event loop
    barrier = ctx.Barrier(count)
    results: Any = ctx.Queue()
    shards = [rooms[i::count] for i in range(count)]
    procs = [
        ctx.Process(target=_main, args=(http_url, target, shard, barrier, results), daemon=True)
        for shard in shards
    ]
    for proc in procs:
        proc.start()
    joins: list[Join] = []
    try:
        for _ in procs:
            joins += results.get(timeout=RESULT_WAIT_SECONDS)
    except queue.Empty:
        raise RuntimeError(
            f"bench: a client process of the {len(rooms)}-room burst gave no result "
            f"within {RESULT_WAIT_SECONDS} s (exit codes {[p.exitcode for p in procs]})"
        ) from None
    finally:
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
    return joins


def _main(
    http_url: str, target: Target, rooms: list[str], barrier: threading.Barrier, results: Any
) -> None:
    results.put(asyncio.run(_shard(http_url, target, rooms, barrier)))
    results.close()
    results.join_thread()  # the result is out; the SDK's threads need no orderly teardown
    os._exit(0)


async def _shard(
    http_url: str, target: Target, rooms: list[str], barrier: threading.Barrier | None
) -> list[Join]:
    async def everyone_connected() -> None:
        if barrier is None:
            return
        # A process that failed to connect in time breaks the barrier; the others dispatch.
        with contextlib.suppress(threading.BrokenBarrierError):
            await asyncio.to_thread(barrier.wait, CONNECT_WAIT_SECONDS)

    async with api.LiveKitAPI(http_url, target.api_key, target.api_secret) as lk:
        return await join_burst(target, lk, rooms, everyone_connected)
