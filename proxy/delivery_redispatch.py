"""What the delivery watcher does about a dispatch that brought no agent, or lost it:
re-issue it (one re-dispatch at a time, under a per-room lock shared with the Dispatcher,
with backoff and a cap), and replace an agent lost while a person is still in the room,
a dead worker's ghost included. Also what the watcher keeps, and the plumbing every
change of it goes through: its event, on_change (proxy/durable.py) and the background
tasks. What the watcher is told and when it acts on it is proxy/delivery.py's."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Callable, Coroutine
from typing import Any

from livekit import api

from devstack.livekit import API_ERRORS, SERVER_ERRORS
from devstack.rooms import AGENT_KIND
from devstack.server_log import RegisteredWorker, WorkerRegistry
from proxy.deliveries import BACKOFF_SECONDS, MAX_REDISPATCHES, Delivery, EventLog
from proxy.metrics import DeliveryMetrics

logger = logging.getLogger("devstack.proxy.delivery")


def created_at(made: api.AgentDispatch) -> float:
    """When the server created a dispatch, in seconds of its clock (now if it did not say)."""
    return made.state.created_at / 1e9 if made.state.created_at else time.time()


class Redispatcher:
    """What the delivery watcher keeps (proxy/durable.py writes it through), and how it
    re-issues a dispatch; proxy.delivery.DeliveryWatcher adds what it is told."""

    def __init__(
        self,
        lk: api.LiveKitAPI,
        registry: WorkerRegistry,
        metrics: DeliveryMetrics,
        enabled: bool,
    ) -> None:
        self.lk = lk
        self.registry = registry
        self.metrics = metrics
        self.enabled = enabled
        self.deliveries: dict[tuple[str, str], Delivery] = {}
        self.joined: dict[str, str] = {}  # dispatch id -> the agent that joined for it
        # (room, identity) -> [(agent name, metadata)] of tokens minted with a room config
        self.tokens: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self.events = EventLog()
        self._tasks: set[asyncio.Task[None]] = set()
        # One lock per room and agent name, shared with the Dispatcher: the watcher and a
        # user's request never replace the same dispatch at once.
        self._locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        # Agents that joined before their dispatch was tracked (a token's dispatch is
        # adopted only after the server listed it): (room, name) -> (identity, when).
        self.early: dict[tuple[str, str], tuple[str, float]] = {}
        self.token_times: dict[tuple[str, str], float] = {}
        # Called with each delivery it starts to follow (proxy.delivery_rescues checks what
        # the server's log already said about it).
        self.on_tracked: list[Callable[[Delivery], None]] = []
        # Called after each change of what it follows (proxy.durable keeps it on disk).
        self.on_change: list[Callable[[], None]] = []

    def lock(self, room: str, agent_name: str) -> asyncio.Lock:
        return self._locks.setdefault((room, agent_name), asyncio.Lock())

    # --- replacing a lost agent ------------------------------------------------------

    async def replace_dead_worker_agent(self, d: Delivery, worker: RegisteredWorker) -> None:
        """`d`'s agent came from a worker the server just closed. If the agent is still in
        the room, it is a ghost: its job process died with the worker, and the server would
        keep it until its connection times out (about 20 s, CONNECTION_TIMEOUT). Cloud
        replaces such an agent at once, so the stack removes it and replaces it now. A
        worker that stopped on purpose ended its jobs first: its agents are gone already."""
        identity = d.agent_identity
        if d.state != "joined" or not identity:
            return
        try:
            await self.lk.room.get_participant(
                api.RoomParticipantIdentity(room=d.room, identity=identity)
            )
        except API_ERRORS:
            return  # it left before its worker closed (a stop on purpose), or the room ended
        if not await self._people_in(d.room):
            return  # nobody to serve: the ghost only keeps an empty room a little longer
        if d.state != "joined" or d.agent_identity != identity:
            return  # its departure's webhook came meanwhile
        # Cleared first: the removal's webhook (PARTICIPANT_REMOVED) is not a departure on
        # purpose of the agent this delivery follows.
        d.agent_identity, d.state = "", "lost"
        self.changed()
        with contextlib.suppress(*API_ERRORS):
            await self.lk.room.remove_participant(
                api.RoomParticipantIdentity(room=d.room, identity=identity)
            )
        await self._replace_lost(
            d, f"{identity}'s worker {worker.worker_id} closed with it in the room; removed it"
        )

    async def _replace_lost(self, d: Delivery, why: str) -> None:
        """An agent gone abnormally: replace it while a person is still in the room."""
        d.state = "lost"
        people = await self._people_in(d.room)
        self.event(d, "agent lost", f"{why}; {people} in the room")
        if not people:
            d.state = "ended"
            self.changed()
            return
        if not self.enabled:
            self.metrics.lost.labels(reason="agent_lost").inc()
            self.event(d, "not replaced", "AGENT_REDISPATCH=off: raw self-hosted behaviour")
            return
        name = d.agent_name
        if self.registry.server_started_at is not None and not self.registry.named(name):
            d.state = "waiting_for_worker"
            self.event(
                d, "waiting", f"no worker named {name!r} registered yet; replacing when one does"
            )
            return
        self.start_redispatch(d, "agent lost")

    # --- re-issuing a dispatch --------------------------------------------------------

    def rescue(self, d: Delivery, reason: str, lost_reason: str) -> None:
        """Re-issue `d`'s dispatch for `reason`; with AGENT_REDISPATCH=off, count it lost as
        `lost_reason` instead (raw self-hosted behaviour)."""
        if not self.enabled:
            d.state = "lost"
            self.metrics.lost.labels(reason=lost_reason).inc()
            self.changed()
            return
        self.start_redispatch(d, reason)

    def start_redispatch(self, d: Delivery, reason: str) -> None:
        d.state = "redispatching"  # one re-dispatch at a time, whatever else arrives
        self.changed()  # kept as waiting: a restarted proxy re-issues it (proxy/durable.py)
        self.spawn(self.redispatch(d, reason))

    async def redispatch(self, d: Delivery, reason: str) -> None:
        if d.redispatches >= MAX_REDISPATCHES:
            d.state = "lost"
            self.metrics.lost.labels(reason="cap_reached").inc()
            self.event(d, "gave up", f"{MAX_REDISPATCHES} re-dispatches already; {reason}")
            return
        await asyncio.sleep(BACKOFF_SECONDS[min(d.redispatches, len(BACKOFF_SECONDS) - 1)])
        async with self.lock(d.room, d.agent_name):
            if self.deliveries.get((d.room, d.agent_name)) is not d or d.state == "joined":
                return  # the room ended, a user dispatched again, or an agent came after all
            old = d.dispatch_id
            try:
                created = await self.lk.agent_dispatch.create_dispatch(
                    api.CreateAgentDispatchRequest(
                        agent_name=d.agent_name, room=d.room, metadata=d.metadata
                    )
                )
            except API_ERRORS as exc:
                d.state = "lost"
                self.metrics.lost.labels(reason="redispatch_failed").inc()
                self.event(d, "gave up", f"re-dispatch failed ({reason}): {exc}")
                return
            # Recorded before anything else is awaited: its agent's join may come any moment.
            d.redispatches += 1
            d.dispatch_id, d.created_at = created.id, created_at(created)
            if d.state != "joined":
                d.state, d.agent_identity = "pending", ""
            if reason == "agent lost":
                d.requested_at = time.time()  # the user waits again from now
            self.changed()  # on disk before its agent can join: the join is matched by id
            with contextlib.suppress(*SERVER_ERRORS):  # gone with its job: the new one counts
                await self.lk.agent_dispatch.delete_dispatch(old, d.room)
        self.metrics.redispatched.labels(reason=reason.replace(" ", "_")).inc()
        self.event(
            d,
            "re-dispatched",
            f"re-dispatch {d.redispatches}/{MAX_REDISPATCHES} ({reason}): {old} -> {created.id}",
        )

    async def _people_in(self, room: str) -> int:
        try:
            listing = await self.lk.room.list_participants(api.ListParticipantsRequest(room=room))
        except API_ERRORS:
            return 0
        return sum(1 for p in listing.participants if p.kind != AGENT_KIND)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("delivery action failed: %r", task.exception())

    def event(self, d: Delivery, kind: str, message: str) -> None:
        """Every change of a delivery is told with an event, so each one is kept too."""
        self.events.add(d, kind, message)
        self.changed()

    def changed(self) -> None:
        """Tell on_change (proxy/durable.py writes the state through): every change of what
        the watcher keeps calls this, events, counters and joins included."""
        for listener in self.on_change:
            listener()

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
