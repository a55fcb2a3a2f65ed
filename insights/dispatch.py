"""A session's dispatch, from what the stack knows of its job: the server's log says which
room, agent name and worker the job went to and when; the delivery watcher says which
dispatch it was (explicit, token or automatic), what happened to it and any re-dispatch."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Protocol

from starlette.datastructures import State

from devstack.server_log import WorkerRegistry


class DeliveryWatcher(Protocol):
    """What the join reads of the proxy's delivery watcher (proxy/delivery.py), which
    mounts this package: the dispatches it follows by (room, agent name), and its events."""

    deliveries: dict[tuple[str, str], Any]
    events: Any


# Seconds around a job's own time in which the watcher's events of its room are its own: a
# dispatch comes shortly before its job, the agent joins shortly after the assignment.
BEFORE_JOB_SECONDS = 30.0
AFTER_JOB_SECONDS = 5.0


def dispatch_of(
    job_id: str,
    room: str,
    agent_name: str,
    registry: WorkerRegistry,
    watcher: DeliveryWatcher,
    last_seen: float | None = None,
) -> dict[str, Any] | None:
    """None while the stack knows nothing of the job yet (its assignment not read yet).
    `last_seen`: the session's last upload's time; the room's later events (a re-dispatch,
    the room's name used again) are another job's."""
    assigned = registry.assigned.get(job_id)
    if assigned is None and not room:
        return None
    room = room or assigned["room"]  # type: ignore[index]
    if assigned is not None:
        agent_name = assigned["agent_name"]
    d = watcher.deliveries.get((room, agent_name))
    if d is not None and assigned is not None and d.created_at > assigned["at"] + 1:
        d = None  # the watcher follows a newer dispatch in this room than this job's
    since = (d.requested_at if d else assigned["at"] if assigned else 0) - BEFORE_JOB_SECONDS
    until = (last_seen or float("inf")) + AFTER_JOB_SECONDS
    steps = [
        {"at": e["at"], "step": e["kind"], "detail": e["message"]}
        for e in watcher.events.of(room)
        if e["agent_name"] == agent_name and since <= e["at"] <= until
    ]
    if assigned is not None:
        node = f" on node {assigned['node']}" if assigned["node"] else ""
        steps.append(
            {
                "at": assigned["at"],
                "step": "job assigned",
                "detail": f"job {job_id} to worker {assigned['worker_id']}{node}",
            }
        )
    if d is not None:
        source = d.source
    elif agent_name:
        # Not a dispatch the stack followed: the server's own API, a token the stack did
        # not mint, or one the watcher no longer knows.
        source = "explicit or token"
    else:
        source = "automatic"  # an unnamed worker gets every new room
    return {
        "room": room,
        "agent_name": agent_name,
        "dispatch_id": d.dispatch_id if d else "",
        "source": source,
        "redispatches": d.redispatches if d else 0,
        "requested_at": d.requested_at if d else None,
        "steps": sorted(steps, key=lambda s: s["at"]),
    }


def merged(kept: dict[str, Any] | None, live: dict[str, Any] | None) -> dict[str, Any] | None:
    """What was kept with the session, with what the stack knows now: the watcher forgets a
    dispatch once its room is gone, so a kept dispatch id and source win over none; the
    steps are those of both."""
    if kept is None or live is None:
        return kept or live
    out = {**live}
    if kept["dispatch_id"]:
        # Known once, kept: the watcher moves on to the room's next dispatch.
        for key in ("dispatch_id", "source", "redispatches", "requested_at"):
            out[key] = kept[key]
    seen = {(s["at"], s["step"]): s for s in [*kept["steps"], *live["steps"]]}
    out["steps"] = sorted(seen.values(), key=lambda s: s["at"])
    return out


def update(
    row: dict[str, Any], registry: WorkerRegistry, watcher: DeliveryWatcher
) -> dict[str, Any] | None:
    """The session row's dispatch with what the stack knows now, when that adds to what the
    row keeps (then the row is updated too, and the caller stores it); else None. Runs on the
    event loop: the registry and the watcher change there."""
    kept = json.loads(row["dispatch"]) if row.get("dispatch") else None
    last = row["last_ns"] / 1e9 if row.get("last_ns") else None
    live = dispatch_of(row["job_id"], row["room"], row["agent_name"], registry, watcher, last)
    now = merged(kept, live)
    if now is None or now == kept:
        return None
    row["dispatch"] = json.dumps(now)
    row["room"] = row["room"] or now["room"]
    row["agent_name"] = row["agent_name"] or now["agent_name"]
    return now


async def keep_dispatch(state: State, row: dict[str, Any]) -> None:
    """Join the session row to its dispatch now, and store what that adds (`state`: the
    app's, with its registry, watcher and insights store)."""
    now = update(row, state.registry, state.watcher)
    if now is not None:
        await asyncio.to_thread(state.insights.note_dispatch, row["job_id"], now)
