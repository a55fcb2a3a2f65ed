"""Follow each dispatch the proxy makes until its agent joins, or log why it did not.

The server tells nothing back about a dispatch: a job shows up in its state only seconds
after the agent joined, and a dispatch nobody took looks the same as one on its way. So
the proxy watches the room itself. What it learns makes dispatch idempotency exact (an
agent that joined and left is not "on its way") and puts the outcome in the proxy log."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from livekit import api

from devstack.rooms import AGENT_WAIT_SECONDS, wait_for_agent

logger = logging.getLogger("devstack.proxy.watch")


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
        found = await wait_for_agent(lk, room, agent_name, AGENT_WAIT_SECONDS, exclude=before)
        if found is not None:
            agent, elapsed = found
            self.joined[dispatch_id] = agent.identity
            logger.info(
                "agent joined: room=%s agent_name=%s dispatch_id=%s identity=%s after %d ms",
                room,
                agent_name,
                dispatch_id,
                agent.identity,
                elapsed * 1000,
            )
            return
        logger.warning(
            "no agent %.0f s after dispatch: room=%s agent_name=%s dispatch_id=%s. "
            "Is a worker registered as %r on this server, with free capacity? (GET /api/health)",
            AGENT_WAIT_SECONDS,
            room,
            agent_name,
            dispatch_id,
            agent_name,
        )

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
