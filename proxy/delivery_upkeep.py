"""The delivery watcher's upkeep: a once-a-second pass that warns about a dispatch that
brought no agent in a front end's patience and forgets what can no longer matter, and
the snapshot the page and GET /api/delivery show."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict
from typing import Any

from livekit import api

from devstack.livekit import API_ERRORS
from devstack.rooms import AGENT_WAIT_SECONDS, agent_name_of
from proxy.deliveries import Delivery
from proxy.delivery import DeliveryWatcher

logger = logging.getLogger("devstack.proxy.delivery")
STALE_SECONDS = 3600.0  # a token's lifetime: one not used by then is not coming
MAX_REMEMBERED = 10_000


async def sweep(watcher: DeliveryWatcher) -> None:
    """Warn once about a dispatch that brought no agent within a front end's patience."""
    while True:
        try:
            await _sweep_once(watcher)
        except Exception:  # the loop must outlive one bad round
            logger.exception("delivery sweep failed; going on")
        await asyncio.sleep(1)


async def _sweep_once(watcher: DeliveryWatcher) -> None:
    now = time.time()
    for d in list(watcher.deliveries.values()):
        late = now - d.requested_at >= AGENT_WAIT_SECONDS
        if d.state in ("pending", "waiting_for_worker") and not d.warned and late:
            d.warned = True
            if await present(watcher, d):
                continue  # it came, and its webhook did not reach the proxy (told and kept)
            watcher.event(
                d,
                "no agent yet",
                f"no agent {AGENT_WAIT_SECONDS:.0f} s after {d.dispatch_id} ({d.state}); "
                f"front ends give up now. Is a worker named {d.agent_name!r} registered "
                "on this server? (GET /api/health)",
            )
    purge(watcher, now)


async def present(watcher: DeliveryWatcher, d: Delivery) -> bool:
    """Whether the agent is in the room after all; if so the watcher learns it now."""
    try:
        listing = await watcher.lk.room.list_participants(api.ListParticipantsRequest(room=d.room))
    except API_ERRORS:
        return False
    agent = next((p for p in listing.participants if agent_name_of(p) == d.agent_name), None)
    if agent is not None:
        watcher.agent_joined(d.room, d.agent_name, agent.identity)
    return agent is not None


def purge(watcher: DeliveryWatcher, now: float) -> None:
    """Forget tokens never used, early joins never claimed, and the oldest joins."""
    stale = [k for k, t in watcher.token_times.items() if now - t > STALE_SECONDS]
    for key in stale:
        watcher.tokens.pop(key, None)
        watcher.token_times.pop(key, None)
    for key in [k for k, (_, t) in watcher.early.items() if now - t > AGENT_WAIT_SECONDS]:
        watcher.early.pop(key)  # never kept on disk: nothing to save
    crowded = len(watcher.joined) > MAX_REMEMBERED
    while len(watcher.joined) > MAX_REMEMBERED:
        watcher.joined.pop(next(iter(watcher.joined)))
    if stale or crowded:
        watcher.changed()


def snapshot(watcher: DeliveryWatcher, room: str | None = None) -> dict[str, Any]:
    """What the page and GET /api/delivery show."""
    return {
        "redispatch": "on" if watcher.enabled else "off",
        "counters": watcher.metrics.totals(),
        "deliveries": [
            asdict(d) for d in watcher.deliveries.values() if room is None or d.room == room
        ],
        "events": watcher.events.of(room),
    }
