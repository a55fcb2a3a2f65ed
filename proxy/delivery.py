"""The delivery watcher: LiveKit Cloud's agent-watcher, offline.

Self-hosted livekit-server forgets a dispatch it could not deliver (no worker of that name
registered: 0 jobs, never retried) and a dispatch whose agent crashed (the dispatch stays,
nobody comes back; livekit/agents#1472). Cloud runs an extra service that re-dispatches.
This is that service for the stack: it follows every dispatch the proxy makes (explicit,
and the room config of tokens it mints) until an agent of that name is in the room, using
server facts only: the server's signed webhooks (joins, and why a participant left), here,
and its log (devstack.server_log), read by proxy.delivery_rescues, which must be attached
for those rescues. It replaces an agent lost to a crash while a person is still in the
room; from the log, it re-issues a dispatch no worker took once a worker of that name
registers, and one whose worker answered too late for the server. An agent that left on
purpose, a name no worker has, and a token ignored because the room existed are not
rescued: Cloud fails on those too. This module is what the watcher is told and when it
acts; how it acts (re-dispatch, replace a lost agent) is proxy/delivery_redispatch.py."""

from __future__ import annotations

import logging
import time

from livekit import api

from devstack.livekit import API_ERRORS
from devstack.rooms import agent_name_of
from proxy.deliveries import ENDED_ON_PURPOSE, Delivery, reason_name
from proxy.delivery_redispatch import Redispatcher, created_at

logger = logging.getLogger("devstack.proxy.delivery")


class DeliveryWatcher(Redispatcher):
    """The watcher the proxy runs: what the proxy and the server's webhooks tell it."""

    # --- what the proxy tells it ------------------------------------------------------

    def track(
        self, room: str, agent_name: str, made: api.AgentDispatch, metadata: str, source: str
    ) -> None:
        """Follow a dispatch the stack just made until its agent is in the room."""
        dispatch_id = made.id
        d = Delivery(room, agent_name, source, dispatch_id, metadata, time.time(), created_at(made))
        self.deliveries[(room, agent_name)] = d
        self.metrics.requested.labels(source=source).inc()
        if self.registry.server_started_at is not None and not self.registry.named(agent_name):
            d.state = "waiting_for_worker"
            self.event(
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
            self.event(d, "dispatched", f"{source} dispatch {dispatch_id}")
        if (early := self.early.pop((room, agent_name), None)) is not None:
            self.agent_joined(room, agent_name, early[0])
        for tracked in self.on_tracked:
            tracked(d)

    def expect_token(self, room: str, identity: str, agents: list[tuple[str, str]]) -> None:
        """A token the proxy minted with a room config: follow the dispatches the server makes
        from it when this participant's join creates the room (none if the room existed)."""
        self.tokens[(room, identity)] = agents
        self.token_times[(room, identity)] = time.time()
        self.changed()

    def forget(self, room: str, agent_name: str) -> None:
        """The stack itself lets this agent go (a switch): its leaving is not a loss."""
        if (d := self.deliveries.pop((room, agent_name), None)) is not None:
            self.event(d, "released", f"{agent_name} is let go on purpose; not followed")

    # --- what the server tells it -----------------------------------------------------

    async def on_webhook(self, event: api.WebhookEvent) -> None:
        room, p = event.room.name, event.participant
        if event.event == "participant_joined":
            name = agent_name_of(p)
            if name is not None:
                self.agent_joined(room, name, p.identity)
            elif (room, p.identity) in self.tokens:
                agents = self.tokens.pop((room, p.identity))
                self.changed()  # the token is used: forgotten, whatever comes of it
                for agent_name, metadata in agents:
                    await self._adopt_token_dispatch(room, agent_name, metadata)
        elif event.event in ("participant_left", "participant_connection_aborted"):
            name = agent_name_of(p)
            if name is not None:
                await self._agent_left(room, name, p)
        elif event.event == "room_finished":
            for table in (self.deliveries, self.tokens, self.token_times, self.early):
                for key in [k for k in table if k[0] == room]:
                    table.pop(key)
            self.changed()

    def agent_joined(self, room: str, name: str, identity: str) -> None:
        d = self.deliveries.get((room, name))
        if d is None:
            self.early[(room, name)] = (identity, time.time())
            return
        if d.state == "joined":
            return
        d.state, d.agent_identity = "joined", identity
        self.joined[d.dispatch_id] = identity
        waited = time.time() - d.requested_at
        self.metrics.delivered.inc()
        self.metrics.time_to_agent.observe(waited)
        self.event(d, "agent joined", f"{identity} joined {waited * 1000:.0f} ms after the request")

    async def _adopt_token_dispatch(self, room: str, agent_name: str, metadata: str) -> None:
        try:
            dispatches = await self.lk.agent_dispatch.list_dispatch(room)
        except API_ERRORS as exc:
            logger.warning(
                "cannot follow the token dispatch of %r in %s: %s", agent_name, room, exc
            )
            return
        made = [x for x in dispatches if x.agent_name == agent_name]
        if not made:
            # The room existed before this join: the server ignored the token's room config.
            # Cloud does the same, so nothing is rescued; /api/token warned about it.
            logger.info("token dispatch of %r into existing room %s was ignored", agent_name, room)
            return
        if (room, agent_name) not in self.deliveries:
            self.track(room, agent_name, made[-1], metadata, "token")

    async def _agent_left(self, room: str, name: str, p: api.ParticipantInfo) -> None:
        if self.early.get((room, name), ("",))[0] == p.identity:
            self.early.pop((room, name))  # it came before its dispatch was followed, and went
        d = self.deliveries.get((room, name))
        if d is None or d.agent_identity != p.identity:
            return
        why = reason_name(p.disconnect_reason)
        if p.disconnect_reason in ENDED_ON_PURPOSE:
            d.state = "ended"
            self.event(d, "agent left", f"{p.identity} left on purpose ({why}): not replaced")
            return
        await self._replace_lost(d, f"{p.identity} left abnormally ({why})")
