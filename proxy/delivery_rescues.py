"""What the server's log tells the delivery watcher, and no webhook does: a worker
registered (a dispatch made before it can now be re-issued), a worker closed (its agents
still in a room are ghosts, replaced at once), the server restarted (its
dispatches died with its rooms), an agent's connection never came up, and a job the
server gave up because no worker answered its request in time or none had room for it.
Each rescue goes through the watcher's own re-dispatch, under its per-room lock and cap."""

from __future__ import annotations

from devstack.livekit import API_ERRORS
from devstack.server_log import RegisteredWorker, WorkerRegistry, no_capacity
from proxy.deliveries import Delivery
from proxy.delivery import DeliveryWatcher


class ServerLogRescues:
    def __init__(self, watcher: DeliveryWatcher, registry: WorkerRegistry) -> None:
        self.watcher = watcher
        self.registry = registry
        watcher.on_tracked.append(self.on_tracked)
        registry.on_registered.append(self.on_registered)
        registry.on_never_connected.append(self.on_never_connected)
        registry.on_not_assigned.append(self.on_not_assigned)
        registry.on_started.append(self.on_server_started)
        registry.on_closed.append(self.on_worker_closed)

    def on_registered(self, worker: RegisteredWorker) -> None:
        w = self.watcher
        for d in list(w.deliveries.values()):
            if d.agent_name != worker.agent_name or d.state != "waiting_for_worker":
                continue
            if w.enabled:
                # Its state says so at once: a pool registering twice re-issues it once.
                w.start_redispatch(d, "worker registered")
            else:
                w.metrics.lost.labels(reason="no_worker_at_dispatch").inc()
                d.state = "lost"
                w.event(
                    d,
                    "not re-issued",
                    f"worker {worker.worker_id} registered, but {d.dispatch_id} was made before "
                    "it and the server never retries it (AGENT_REDISPATCH=off)",
                )

    def on_worker_closed(self, worker: RegisteredWorker) -> None:
        """A worker's connection ended (killed, crashed or stopped): an agent of its jobs
        still in a room has no job process behind it any more. A delivery's agent is this
        worker's when the worker was given a job in that room for the current dispatch (one
        job per dispatch; a pool's other worker, or an older dispatch's, is not it), and
        the worker closed after (a restarted proxy reads old closes again from the log)."""
        closed_at = worker.closed_at or 0.0
        for d in list(self.watcher.deliveries.values()):
            if d.agent_name != worker.agent_name or d.state != "joined":
                continue
            took = any(room == d.room and at >= d.created_at for room, at in worker.rooms)
            if took and d.created_at <= closed_at:
                self.watcher.spawn(self.watcher.replace_dead_worker_agent(d, worker))

    def on_server_started(self, node: str) -> None:
        """A (re)started server has no rooms: the dispatches followed on it died with them.
        (With several nodes, rooms live on in Redis and the other nodes.) Those followed
        since it started stay: a restarted proxy reads the log again from its start."""
        if node == "":
            started = self.registry.started.get(node, 0.0)
            gone = [k for k, d in self.watcher.deliveries.items() if d.requested_at < started]
            for key in gone:
                self.watcher.deliveries.pop(key)
            if gone:
                self.watcher.changed()

    def on_never_connected(self, room: str, identity: str) -> None:
        for d in list(self.watcher.deliveries.values()):
            if d.room == room and d.state == "pending":
                self.watcher.spawn(self._job_failed(d, identity))

    def on_not_assigned(self, room: str, agent_name: str) -> None:
        """The server gave a job up: no worker answered its request within the request's
        3 s deadline (a worker busy with a burst, or stalled), or none had room (full, or
        at load 1.0). The server never retries and no webhook says so; Cloud's dispatch
        goes on, so the watcher re-issues it (with its backoff, under its cap)."""
        if (d := self.watcher.deliveries.get((room, agent_name))) is not None:
            self.on_tracked(d)

    def on_tracked(self, d: Delivery) -> None:
        """Also run for a dispatch followed only now (a token's, adopted once its person's
        join webhook came): the log may have said it was given up before the watcher knew
        it. Only a job given up after the current dispatch was made counts."""
        gave_up = self.registry.gave_up_since(d.room, d.agent_name, d.created_at)
        if not gave_up or d.state != "pending":
            return  # joined after all, already being replaced, or waiting for a worker
        job = gave_up[-1]
        if no_capacity(job):
            why = (
                f"every worker named {d.agent_name!r} was full or reported load 1.0 (a "
                "saturated CPU), and the server gives such a worker no job"
            )
            reason, lost = "no capacity", "no_capacity"
        else:
            why = (
                f"no worker named {d.agent_name!r} answered its job request within the "
                "server's 3 s deadline"
            )
            reason, lost = "job not assigned", "not_assigned"
        self.watcher.event(
            d,
            "not assigned",
            f"the server gave up the job of {d.dispatch_id} ({job['error']}): {why}",
        )
        self.watcher.rescue(d, reason, lost)

    async def _job_failed(self, d: Delivery, identity: str) -> None:
        """Under load an agent's connection can time out before it ever joins (a burst on a
        small machine): the server drops the participant and keeps the dispatch, and no
        webhook says so. Re-issue it if the failed participant was this dispatch's agent."""
        try:
            dispatches = await self.watcher.lk.agent_dispatch.list_dispatch(d.room)
        except API_ERRORS:
            return  # the room is gone, or the server is: nothing to re-issue into
        mine = next((x for x in dispatches if x.id == d.dispatch_id), None)
        if mine is None or d.state != "pending":
            return
        if not any(j.state.participant_identity == identity for j in mine.state.jobs):
            return
        self.watcher.event(d, "agent lost", f"{identity} never connected; the server dropped it")
        self.watcher.rescue(d, "agent never connected", "never_connected")
