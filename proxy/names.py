"""Which agent name the proxy dispatches when a request names none: LIVEKIT_AGENT_NAME, or,
when the stack runs your own agent (AGENT_FILE, AGENT_DIR), the name that worker registered
with, as its health server reports it. A request that names an agent always gets that
one, so a mismatch stays a mismatch and the doctor still names it."""

from __future__ import annotations

from devstack.settings import Settings
from devstack.worker_health import pool_statuses, registered_name
from proxy.errors import ApiError


async def agent_name_for(settings: Settings, requested: str | None) -> str:
    """The agent name to dispatch: the request's, else the default; never empty."""
    name = requested
    if name is None and settings.own_agent:
        name = registered_name(await pool_statuses(settings.state_dir))
        if name is None:
            # Until your worker is up its name is unknown: guessing LIVEKIT_AGENT_NAME would
            # dispatch a name nobody registers, and the watcher would wait for it for ever.
            raise ApiError(
                503,
                "worker_starting",
                f"the worker of {settings.own_agent} is not up yet, so the agent "
                "name it registers is not known",
                "Wait for its 'registered worker' line, or pass agent_name.",
            )
    if name is None:
        name = settings.livekit_agent_name
    if not name:
        raise ApiError(
            422,
            "no_agent_name",
            "agent_name is empty: an unnamed worker is dispatched automatically into every "
            "new room and can never be dispatched explicitly",
            "Pass agent_name, or set LIVEKIT_AGENT_NAME in .env (read by worker and proxy).",
        )
    return name
