"""A burst's clients spread over several processes, two per process. Real people have a
device each; the Python SDK makes the rooms of one process wait for each other (it hands
every event of every room to every room of its process, and its native side answers one
room's requests later the more rooms connect in the same process). With 10 clients per
process, the step from the agent's state update to the person seeing it grew from about
10 ms alone to 1.7 s (p50) at 20 rooms at once: the benchmark was timing its own clients.
Two per process keeps 50 people to 25 processes. Every process connects its clients; once
they all have, every dispatch goes out (with --wait-dispatcher, once livekit-server's
agent dispatcher answers at once again too: bench/settle.py)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.measure import API_TIMEOUT_SECONDS, Join, Target, join_burst
from bench.settle import SETTLE_TIMEOUT, wait_dispatcher_ready
from bench.spawned import SPAWN, gather, send
from devstack.livekit import api_client

ROOMS_PER_PROCESS = 2
CONNECT_WAIT_SECONDS = 60  # for every process's clients to be in their rooms
RESULT_WAIT_SECONDS = 180


@dataclass
class Burst:
    joins: list[Join]
    # With --wait-dispatcher: from the last person in until the server's agent dispatcher
    # answered at once; None when not waited for, or when its log could not tell.
    server_wait_s: float | None


def burst(
    http_url: str,
    target: Target,
    rooms: list[str],
    server_log: Path | None,
    wait_dispatcher: bool = False,
) -> Burst:
    """Explicit dispatches into `rooms` at once, each with a person already in it. A real
    burst waits for nothing else; with `wait_dispatcher` (a diagnostic), they go out once
    the server's agent dispatcher answers at once (`server_log` is where it says so)."""
    waited: float | None = None

    def settle() -> None:
        nonlocal waited
        if wait_dispatcher:
            waited = wait_dispatcher_ready(
                http_url, target.api_key, target.api_secret, rooms[0], server_log
            )

    count = max(1, math.ceil(len(rooms) / ROOMS_PER_PROCESS))
    if count == 1:
        joins = asyncio.run(_shard(http_url, target, rooms, settle))
        return Burst(joins, waited)
    # Every process and this one: the server is waited for once all the people are in.
    connected, go = SPAWN.Barrier(count + 1), SPAWN.Event()
    shards = [(http_url, target, rooms[i::count], connected, go) for i in range(count)]

    def release() -> None:
        try:
            # A process that failed to connect in time breaks the barrier; the others go on.
            with contextlib.suppress(threading.BrokenBarrierError):
                connected.wait(CONNECT_WAIT_SECONDS)
                settle()
        finally:
            go.set()  # the processes never wait past this, whatever happened here

    what = f"the {len(rooms)}-room burst's clients"
    results = gather(_main, shards, what, RESULT_WAIT_SECONDS, meanwhile=release)
    return Burst([j for joins in results for j in joins], waited)


def _main(
    http_url: str,
    target: Target,
    rooms: list[str],
    connected: threading.Barrier,
    go: threading.Event,
    results: Any,
) -> None:
    def ready() -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            connected.wait(CONNECT_WAIT_SECONDS)
        go.wait(SETTLE_TIMEOUT + CONNECT_WAIT_SECONDS)  # set by burst(), whatever happened

    send(results, asyncio.run(_shard(http_url, target, rooms, ready)))


async def _shard(
    http_url: str, target: Target, rooms: list[str], ready: Callable[[], None]
) -> list[Join]:
    async def everyone_ready() -> None:
        await asyncio.to_thread(ready)  # blocking: a barrier, or the server's log

    async with api_client(http_url, target.api_key, target.api_secret, API_TIMEOUT_SECONDS) as lk:
        return await join_burst(target, lk, rooms, everyone_ready)
