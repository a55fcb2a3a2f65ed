"""Explicit agent dispatch that never launches a second agent for the same ask.

The server dedupes nothing: every CreateDispatch starts another agent. It also keeps a
dispatch that no worker took (zero jobs) forever without retrying it. So before creating
one, look at the room: an agent of that name in it, or a dispatch still on its way, means
"already dispatched"; a dispatch whose agent left, or that nobody took, is replaced."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from livekit import api

from devstack.livekit import SERVER_ERRORS
from devstack.rooms import UNTAKEN_AFTER_SECONDS, agent_name_of, dispatch_age, find_room, room_state
from proxy.delivery import DeliveryWatcher

logger = logging.getLogger("devstack.proxy.dispatch")


@dataclass
class DispatchOutcome:
    dispatch_id: str
    room_existed: bool
    already_dispatched: bool
    message: str
    replaced_dispatch_id: str | None = None


class Dispatcher:
    """Creates dispatches through AgentDispatchService, one live dispatch per room and name."""

    def __init__(self, lk: api.LiveKitAPI, watcher: DeliveryWatcher) -> None:
        self._lk = lk
        self.watcher = watcher

    async def ensure(self, room: str, agent_name: str, metadata: str) -> DispatchOutcome:
        """Return the live dispatch of `agent_name` in `room`, creating one only when needed."""
        # Two clicks on "connect" arrive together, or the watcher re-issues this very
        # dispatch: serialize per room and agent name, with the watcher's own lock.
        async with self.watcher.lock(room, agent_name):
            return await self._ensure(room, agent_name, metadata)

    def _pending(self, d: api.AgentDispatch) -> bool:
        """On its way: young, and its agent has not been seen joining (and leaving) yet."""
        if d.id in self.watcher.joined:
            return False
        followed = self.watcher.deliveries.get((d.room, d.agent_name))
        if followed and followed.dispatch_id == d.id:
            if followed.state in ("waiting_for_worker", "redispatching"):
                return True  # the watcher re-issues it when a worker registers
            if followed.state != "pending":
                return False
        return dispatch_age(d) < UNTAKEN_AFTER_SECONDS

    async def _ensure(self, room: str, agent_name: str, metadata: str) -> DispatchOutcome:
        room_existed = await find_room(self._lk, room) is not None
        stale: list[api.AgentDispatch] = []
        present: list[str] = []
        if room_existed:
            participants, dispatches = await room_state(self._lk, room)
            mine = sorted(
                (d for d in dispatches if d.agent_name == agent_name),
                key=lambda d: d.state.created_at,
            )
            present = [p.identity for p in participants if agent_name_of(p) == agent_name]
            if present:
                message = f"Agent {agent_name} is already in room {room} as {present[0]}"
                return DispatchOutcome(mine[-1].id if mine else "", True, True, message)
            pending = [d for d in mine if self._pending(d)]
            if pending:
                age = dispatch_age(pending[-1])
                message = (
                    f"Agent {agent_name} was dispatched to room {room} {age:.1f} s ago; on its way"
                )
                return DispatchOutcome(pending[-1].id, True, True, message)
            stale = mine

        created = await self._lk.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name=agent_name, room=room, metadata=metadata)
        )
        self.watcher.track(room, agent_name, created, metadata, "explicit")
        message = f"Agent dispatched to room {room}"
        replaced = stale[-1].id if stale else None
        if stale:
            seen = stale[-1].id in self.watcher.joined or bool(stale[-1].state.jobs)
            why = "its agent left" if seen else "no worker ever took it"
            message += f" again: the earlier dispatch {replaced} has no agent in the room ({why})"
            # The old dispatches will never produce an agent; keep the room's list honest.
            for d in stale:
                with contextlib.suppress(*SERVER_ERRORS):  # the watcher may have removed it
                    await self._lk.agent_dispatch.delete_dispatch(d.id, room)
        logger.info(
            "dispatch created: room=%s agent_name=%s dispatch_id=%s room_existed=%s replaced=%s",
            room,
            agent_name,
            created.id,
            room_existed,
            replaced or "-",
        )
        return DispatchOutcome(created.id, room_existed, False, message, replaced)
