"""A burst's dispatches go out once livekit-server's agent dispatcher answers at once.

livekit-server v1.13.5 (pkg/agent/client.go) looks up which agent names have workers in a
cache it refreshes at the first dispatch or room creation a minute after the last refresh
(EnabledCacheTTL), and after any worker registers. A refresh asks every node
(CheckEnabled), and the answer counts as complete only when that request's 5 s timeout
(CheckEnabledTimeout) has passed. Until then each lookup for a named agent holds one of the
agent client's 50 pool workers (`workerpool.New(50)`), and a dispatch into a room with a
person in it makes two such lookups (the room's job and the person's) and holds a third
worker for its job request. So about 17 dispatches go through, and every other job request
waits for the 5 s to end. The people's rooms of a burst are created within 2-3 s, and the
first of them often starts a refresh. In each of four bursts of 50 dispatched the moment
the last person was in, the first job requests (13 to 17 in the three counted) reached the
worker 0.24 s after the dispatches and the others 1.3-1.9 s after them.

A burst times the agent's arrival, not the people's connects (bench/measure.py), so before
its dispatches it makes one dispatch for an agent name no worker has, and waits for the
server to log that it has no worker for it: the server logs that only once the cache is
complete, and a refresh it started leaves the cache fresh for a minute. How long that took
is reported with the burst."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import aiohttp
from livekit import api

from devstack.livekit import api_client
from devstack.log_lines import NewLines
from devstack.server_log import parse_line
from devstack.waiting import wait_until

PROBE_AGENT = "devstack-bench-probe"
# pkg/agent/client.go, LaunchJob: no worker has the name (logged once the cache is complete).
NO_WORKER_FOR_NAME = "not dispatching agent job since no worker is available"
POLL_SECONDS = 0.02
SETTLE_TIMEOUT = 15.0  # three times the refresh's 5 s


def probe_answered(lines: Iterable[str], room: str) -> bool:
    """Whether these log lines say the server found no worker for the probe in `room`."""
    return any(
        parsed is not None
        and parsed.message == NO_WORKER_FOR_NAME
        and parsed.fields.get("agentName") == PROBE_AGENT
        and parsed.fields.get("room") == room
        for parsed in map(parse_line, lines)
    )


async def _probe(http_url: str, key: str, secret: str, room: str) -> None:
    async with api_client(http_url, key, secret) as lk:
        await lk.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name=PROBE_AGENT, room=room)
        )


def wait_dispatcher_ready(
    http_url: str, key: str, secret: str, room: str, log: Path | None
) -> float | None:
    """Dispatch the probe into `room` and wait until the server logs it has no worker for
    it; the seconds that took, or None when there is no log to read or it never said so
    (the burst is then measured as it is, and says so on stderr)."""
    if log is None or not log.exists():
        return None
    new_lines = NewLines(log)  # its line can only come after the probe's dispatch
    started = time.perf_counter()

    def answered() -> bool:
        return probe_answered(new_lines(), room)

    what = f"livekit-server to log it has no worker for {PROBE_AGENT!r}"
    try:
        asyncio.run(_probe(http_url, key, secret, room))
        wait_until(answered, timeout=SETTLE_TIMEOUT, what=what, interval=POLL_SECONDS)
    except (TimeoutError, api.TwirpError, aiohttp.ClientError) as exc:
        print(f"bench: {exc}; dispatching anyway", file=sys.stderr)
        return None
    return round(time.perf_counter() - started, 2)
