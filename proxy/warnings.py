"""Why an agent the server accepted may still not come, told before it fails: the room
already exists (a token's room config is ignored), or no worker of that name is there."""

from __future__ import annotations

from livekit import api

from devstack.rooms import find_room
from devstack.server_log import WorkerRegistry
from devstack.settings import Settings
from devstack.worker_health import WorkerStatus, fetch_worker_status


async def room_exists_warning(lk: api.LiveKitAPI, room: str) -> str | None:
    """The server reads a token's room config only when that join creates the room."""
    existing = await find_room(lk, room)
    if existing is None:
        return None
    return (
        f"room {room} already exists ({existing.num_participants} participants), so the agent "
        "dispatch in this token will be ignored: the server reads a room config only when the "
        "join creates the room; use a new room name or POST /api/dispatch-agent"
    )


def worker_warning(
    agent_name: str,
    worker: WorkerStatus,
    registered: bool | None,
    redispatch: bool,
) -> str | None:
    """What one worker's health server and the server's log say about `agent_name`.
    `registered`: whether the log shows a worker of that name (None: no log at hand)."""
    if registered:
        return None  # a worker of that name takes it, wherever it runs
    if registered is False:
        later = (
            "the proxy re-issues it as soon as one registers (AGENT_REDISPATCH=on)"
            if redispatch
            else "the server keeps it with 0 jobs and never retries it (AGENT_REDISPATCH=off)"
        )
        if worker.reachable and worker.agent_name != agent_name:
            shown = repr(worker.agent_name) if worker.agent_name else "unnamed"
            return (
                f"the worker at {worker.url} is registered as {shown}, not {agent_name!r}, and no "
                f"other worker named {agent_name!r} is registered: no agent will come unless one "
                f"starts; then {later}"
            )
        return f"no worker named {agent_name!r} is registered with the server: {later}"
    if not worker.reachable:
        return (
            f"no agent worker answers at {worker.url}; unless a worker registered as {agent_name!r} "
            "runs elsewhere, this dispatch keeps 0 jobs and the server never retries it"
        )
    if worker.agent_name != agent_name:
        shown = (
            repr(worker.agent_name) if worker.agent_name else "unnamed (automatic dispatch only)"
        )
        return f"the worker at {worker.url} is registered as {shown}, not {agent_name!r}: no agent will come"
    if not worker.healthy:
        return f"the worker at {worker.url} is unhealthy ({worker.detail}); check its log and keys"
    return None


async def agent_warning(
    registry: WorkerRegistry, settings: Settings, agent_name: str
) -> str | None:
    """The warning for a dispatch of `agent_name`; the health server is asked only when the
    server's log does not already show a worker of that name."""
    registered = bool(registry.named(agent_name)) if registry.server_started_at else None
    if registered:
        return None
    worker = await fetch_worker_status(settings.worker_health_url)
    return worker_warning(agent_name, worker, registered, settings.redispatch)
