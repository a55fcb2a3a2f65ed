"""The delivery watcher: LiveKit Cloud's agent-watcher, offline.

Self-hosted livekit-server forgets a dispatch it could not deliver (no worker of that name
registered: 0 jobs, never retried) and a dispatch whose agent crashed (the dispatch stays,
nobody comes back; livekit/agents#1472). Cloud runs an extra service that re-dispatches.
This is that service for the stack: it follows every dispatch the proxy makes (explicit,
and the room config of tokens it mints) until an agent of that name is in the room, using
server facts only: the server log's worker registrations (devstack.server_log) and its
signed webhooks (joins, and why a participant left). It re-issues a dispatch no worker took
as soon as a worker of that name registers, and replaces an agent lost to a crash while a
person is still in the room. An agent that left on purpose, a name no worker has, and a
token ignored because the room existed are not rescued: Cloud fails on those too."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any, Literal

from livekit import api

from devstack.rooms import AGENT_KIND, AGENT_NAME_ATTRIBUTES, AGENT_WAIT_SECONDS
from devstack.server_log import RegisteredWorker, WorkerRegistry
from proxy.metrics import DeliveryMetrics

logger = logging.getLogger("devstack.proxy.delivery")
Reason = api.DisconnectReason
# Why an agent may leave without being replaced: it ended its job, someone removed it, the
# room ended, or a newer connection of the same identity took its place.
ENDED_ON_PURPOSE = {
    Reason.CLIENT_INITIATED,
    Reason.PARTICIPANT_REMOVED,
    Reason.ROOM_DELETED,
    Reason.ROOM_CLOSED,
    Reason.DUPLICATE_IDENTITY,
    Reason.SERVER_SHUTDOWN,
    Reason.MIGRATION,
}
MAX_REDISPATCHES = 5  # per room and agent name
BACKOFF_SECONDS = (0.0, 1.0, 2.0, 4.0, 8.0)  # before re-dispatch 1, 2, 3, ...
EVENTS_KEPT = 200
State = Literal["pending", "waiting_for_worker", "joined", "ended", "lost"]


@dataclass
class Delivery:
    room: str
    agent_name: str
    source: str  # "explicit" | "token"
    dispatch_id: str
    metadata: str
    requested_at: float
    state: State = "pending"
    agent_identity: str = ""
    redispatches: int = 0
    warned: bool = False


@dataclass
class Event:
    at: float
    room: str
    agent_name: str
    kind: str
    message: str


def agent_name_in(p: api.ParticipantInfo) -> str | None:
    if p.kind != AGENT_KIND:
        return None
    return next((p.attributes[k] for k in AGENT_NAME_ATTRIBUTES if k in p.attributes), "")


class DeliveryWatcher:
    def __init__(
        self,
        lk: api.LiveKitAPI,
        registry: WorkerRegistry,
        metrics: DeliveryMetrics,
        enabled: bool,
    ) -> None:
        self._lk = lk
        self.registry = registry
        self.metrics = metrics
        self.enabled = enabled
        self.deliveries: dict[tuple[str, str], Delivery] = {}
        self.joined: dict[str, str] = {}  # dispatch id -> the agent that joined for it
        # (room, identity) -> [(agent name, metadata)] of tokens minted with a room config
        self._tokens: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self.events: deque[Event] = deque(maxlen=EVENTS_KEPT)
        self._tasks: set[asyncio.Task[None]] = set()
        registry.on_registered.append(self._on_registered)

    # --- what the proxy tells it ------------------------------------------------------

    def track(
        self, room: str, agent_name: str, dispatch_id: str, metadata: str, source: str
    ) -> None:
        """Follow a dispatch the stack just made until its agent is in the room."""
        d = Delivery(room, agent_name, source, dispatch_id, metadata, time.time())
        self.deliveries[(room, agent_name)] = d
        self.metrics.requested.labels(source=source).inc()
        if self.registry.server_started_at is not None and not self.registry.named(agent_name):
            d.state = "waiting_for_worker"
            self._event(
                d,
                "no worker",
                f"no worker named {agent_name!r} is registered: the server keeps {dispatch_id} "
                + (
                    "with 0 jobs; it will be re-issued when one registers"
                    if self.enabled
                    else "with 0 jobs for good (AGENT_REDISPATCH=off)"
                ),
            )
        else:
            self._event(d, "dispatched", f"{source} dispatch {dispatch_id}")

    def expect_token(self, room: str, identity: str, agents: list[tuple[str, str]]) -> None:
        """A token the proxy minted with a room config: follow the dispatches the server makes
        from it when this participant's join creates the room (none if the room existed)."""
        self._tokens[(room, identity)] = agents

    # --- what the server tells it -----------------------------------------------------

    async def on_webhook(self, event: api.WebhookEvent) -> None:
        room, p = event.room.name, event.participant
        if event.event == "participant_joined":
            name = agent_name_in(p)
            if name is not None:
                self._agent_joined(room, name, p.identity)
            else:
                for agent_name, metadata in self._tokens.pop((room, p.identity), []):
                    await self._adopt_token_dispatch(room, agent_name, metadata)
        elif event.event in ("participant_left", "participant_connection_aborted"):
            name = agent_name_in(p)
            if name is not None:
                await self._agent_left(room, name, p)
        elif event.event == "room_finished":
            for key in [k for k in self.deliveries if k[0] == room]:
                self.deliveries.pop(key)
            for key in [k for k in self._tokens if k[0] == room]:
                self._tokens.pop(key)

    def _agent_joined(self, room: str, name: str, identity: str) -> None:
        d = self.deliveries.get((room, name))
        if d is None or d.state == "joined":
            return
        d.state, d.agent_identity = "joined", identity
        self.joined[d.dispatch_id] = identity
        waited = time.time() - d.requested_at
        self.metrics.delivered.inc()
        self.metrics.time_to_agent.observe(waited)
        self._event(
            d, "agent joined", f"{identity} joined {waited * 1000:.0f} ms after the request"
        )

    async def _adopt_token_dispatch(self, room: str, agent_name: str, metadata: str) -> None:
        dispatches = await self._lk.agent_dispatch.list_dispatch(room)
        made = [x for x in dispatches if x.agent_name == agent_name]
        if not made:
            # The room existed before this join: the server ignored the token's room config.
            # Cloud does the same, so nothing is rescued; /api/token warned about it.
            logger.info("token dispatch of %r into existing room %s was ignored", agent_name, room)
            return
        if (room, agent_name) not in self.deliveries:
            self.track(room, agent_name, made[-1].id, metadata, "token")

    async def _agent_left(self, room: str, name: str, p: api.ParticipantInfo) -> None:
        d = self.deliveries.get((room, name))
        if d is None or d.agent_identity != p.identity:
            return
        why = Reason.Name(p.disconnect_reason)
        if p.disconnect_reason in ENDED_ON_PURPOSE:
            d.state = "ended"
            self._event(d, "agent left", f"{p.identity} left on purpose ({why}): not replaced")
            return
        d.state = "lost"
        people = await self._people_in(room)
        self._event(d, "agent lost", f"{p.identity} left abnormally ({why}); {people} in the room")
        if not people:
            d.state = "ended"
            return
        if not self.enabled:
            self.metrics.lost.labels(reason="agent_lost").inc()
            self._event(d, "not replaced", "AGENT_REDISPATCH=off: raw self-hosted behaviour")
            return
        if self.registry.server_started_at is not None and not self.registry.named(name):
            d.state = "waiting_for_worker"
            self._event(
                d, "waiting", f"no worker named {name!r} registered yet; replacing when one does"
            )
            return
        self._spawn(self._redispatch(d, "agent lost"))

    def _on_registered(self, worker: RegisteredWorker) -> None:
        for d in list(self.deliveries.values()):
            if d.agent_name != worker.agent_name or d.state != "waiting_for_worker":
                continue
            if self.enabled:
                self._spawn(self._redispatch(d, "worker registered"))
            else:
                self.metrics.lost.labels(reason="no_worker_at_dispatch").inc()
                d.state = "lost"
                self._event(
                    d,
                    "not re-issued",
                    f"worker {worker.worker_id} registered, but {d.dispatch_id} was made before "
                    "it and the server never retries it (AGENT_REDISPATCH=off)",
                )

    # --- what it does -----------------------------------------------------------------

    async def _redispatch(self, d: Delivery, reason: str) -> None:
        if d.redispatches >= MAX_REDISPATCHES:
            d.state = "lost"
            self.metrics.lost.labels(reason="cap_reached").inc()
            self._event(d, "gave up", f"{MAX_REDISPATCHES} re-dispatches already; {reason}")
            return
        await asyncio.sleep(BACKOFF_SECONDS[min(d.redispatches, len(BACKOFF_SECONDS) - 1)])
        if self.deliveries.get((d.room, d.agent_name)) is not d or d.state == "joined":
            return  # the room ended, or an agent came after all
        old = d.dispatch_id
        created = await self._lk.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(
                agent_name=d.agent_name, room=d.room, metadata=d.metadata
            )
        )
        with contextlib.suppress(api.TwirpError):  # gone with its job: the new one counts
            await self._lk.agent_dispatch.delete_dispatch(old, d.room)
        d.redispatches += 1
        d.dispatch_id, d.state, d.agent_identity = created.id, "pending", ""
        if reason == "agent lost":
            d.requested_at = time.time()  # the user waits again from now
        self.metrics.redispatched.labels(reason=reason.replace(" ", "_")).inc()
        self._event(
            d,
            "re-dispatched",
            f"re-dispatch {d.redispatches}/{MAX_REDISPATCHES} ({reason}): {old} -> {created.id}",
        )

    async def _people_in(self, room: str) -> int:
        try:
            listing = await self._lk.room.list_participants(api.ListParticipantsRequest(room=room))
        except api.TwirpError:
            return 0
        return sum(1 for p in listing.participants if p.kind != AGENT_KIND)

    async def sweep(self) -> None:
        """Warn once about a dispatch that brought no agent within a front end's patience."""
        while True:
            now = time.time()
            for d in list(self.deliveries.values()):
                late = now - d.requested_at >= AGENT_WAIT_SECONDS
                if d.state in ("pending", "waiting_for_worker") and not d.warned and late:
                    d.warned = True
                    self._event(
                        d,
                        "no agent yet",
                        f"no agent {AGENT_WAIT_SECONDS:.0f} s after {d.dispatch_id} "
                        f"({d.state}); front ends give up now. Is a worker named "
                        f"{d.agent_name!r} registered on this server? (GET /api/health)",
                    )
            await asyncio.sleep(1)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("delivery action failed: %r", task.exception())

    def _event(self, d: Delivery, kind: str, message: str) -> None:
        self.events.append(Event(time.time(), d.room, d.agent_name, kind, message))
        level = (
            logging.WARNING if kind in ("agent lost", "gave up", "no agent yet") else logging.INFO
        )
        logger.log(
            level,
            "%s: room=%s agent_name=%s dispatch_id=%s %s",
            kind,
            d.room,
            d.agent_name,
            d.dispatch_id,
            message,
        )

    def snapshot(self, room: str | None = None) -> dict[str, Any]:
        """What the page and GET /api/delivery show."""
        return {
            "redispatch": "on" if self.enabled else "off",
            "counters": self.metrics.totals(),
            "deliveries": [
                asdict(d) for d in self.deliveries.values() if room is None or d.room == room
            ],
            "events": [asdict(e) for e in self.events if room is None or e.room == room],
        }

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
