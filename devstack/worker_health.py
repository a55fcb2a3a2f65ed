"""What an agent worker's own health server says. No LiveKit API lists workers, so this
is the only place to learn whether a worker runs and under which agent name."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from devstack.local_http import client_for
from devstack.settings import Settings
from devstack.state import WORKERS, read_states


@dataclass
class WorkerStatus:
    url: str
    reachable: bool
    healthy: bool = False
    agent_name: str | None = None
    active_jobs: int = 0
    load: float = 0.0
    detail: str = ""

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


async def fetch_worker_status(url: str, timeout: float = 2.0) -> WorkerStatus:
    """GET / (200 OK, or 503 when it failed to connect to livekit) and GET /worker."""
    base = url.rstrip("/")
    try:
        async with client_for(base, timeout) as client:
            health = await client.get(base + "/")
            info = await client.get(base + "/worker")
    except httpx.HTTPError as exc:
        return WorkerStatus(url=url, reachable=False, detail=f"{type(exc).__name__}: {exc}")
    status = WorkerStatus(
        url=url,
        reachable=True,
        healthy=health.status_code == 200,
        detail=health.text.strip()[:200],
    )
    try:
        body = info.json()
        # Protobuf JSON leaves out default values: a missing agent_name is an unnamed worker.
        status.agent_name = str(body.get("agent_name", ""))
        status.active_jobs = int(body.get("active_jobs") or 0)
        status.load = float(body.get("worker_load") or 0.0)
    except (ValueError, TypeError, AttributeError):
        status.detail = (
            f"{base}/worker did not answer a worker's JSON: is this a livekit-agents worker?"
        )
    return status


async def pool_statuses(state_dir: Path) -> list[tuple[dict[str, Any], WorkerStatus]]:
    """Every worker of the stack's pool (DEVSTACK_STATE_DIR/workers) with its health."""
    pool = read_states(state_dir, WORKERS)
    statuses = await asyncio.gather(*(fetch_worker_status(w["health_url"]) for w in pool))
    return list(zip(pool, statuses, strict=True))


def registered_name(pool: list[tuple[dict[str, Any], WorkerStatus]]) -> str | None:
    """The agent name the stack's own worker reports, None while none answers."""
    return next((s.agent_name for _, s in pool if s.reachable and s.agent_name), None)


async def default_agent_name(settings: Settings) -> str:
    """The name to dispatch when none is given: LIVEKIT_AGENT_NAME, or, when the stack runs
    your own agent (AGENT_FILE, AGENT_DIR), the name that worker registered with."""
    if settings.own_agent:
        return registered_name(await pool_statuses(settings.state_dir)) or (
            settings.livekit_agent_name
        )
    return settings.livekit_agent_name
