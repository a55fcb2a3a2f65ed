"""Follow each dispatch the proxy makes until its agent joins, or log why it did not.

The server tells nothing back about a dispatch: a job shows up in its state only seconds
after the agent joined, and a dispatch nobody took looks the same as one on its way. So
the proxy watches the room itself. What it learns makes dispatch idempotency exact (an
agent that joined and left is not "on its way") and puts the outcome in the proxy log."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from livekit import api

from proxy.rooms import agent_name_of

logger = logging.getLogger("devstack.proxy.watch")
POLL_SECONDS = 0.25
# livekit-client's and agent-starter-react's default wait for an agent.
GIVE_UP_SECONDS = 20.0


@dataclass
class DispatchWatcher:
    """Remembers, per dispatch id, which agent joined for it."""

    joined: dict[str, str] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def watch(
        self, lk: api.LiveKitAPI, room: str, agent_name: str, dispatch_id: str, before: set[str]
    ) -> None:
        """Follow `dispatch_id`; agents in `before` were in the room already and do not count."""
        task = asyncio.create_task(self._follow(lk, room, agent_name, dispatch_id, before))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _follow(
        self, lk: api.LiveKitAPI, room: str, agent_name: str, dispatch_id: str, before: set[str]
    ) -> None:
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < GIVE_UP_SECONDS:
            try:
                listing = await lk.room.list_participants(api.ListParticipantsRequest(room=room))
            except (api.TwirpError, OSError, TimeoutError):
                listing = None  # the room may not be visible yet, or the server blinked
            agents = (
                [p.identity for p in listing.participants if agent_name_of(p) == agent_name]
                if listing
                else []
            )
            fresh = [a for a in agents if a not in before]
            if fresh:
                self.joined[dispatch_id] = fresh[0]
                logger.info(
                    "agent joined: room=%s agent_name=%s dispatch_id=%s identity=%s after %d ms",
                    room,
                    agent_name,
                    dispatch_id,
                    fresh[0],
                    elapsed * 1000,
                )
                return
            await asyncio.sleep(POLL_SECONDS)
        logger.warning(
            "no agent %.0f s after dispatch: room=%s agent_name=%s dispatch_id=%s. "
            "Is a worker registered as %r on this server, with free capacity? (GET /api/health)",
            GIVE_UP_SECONDS,
            room,
            agent_name,
            dispatch_id,
            agent_name,
        )

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
