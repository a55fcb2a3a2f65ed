"""GET /api/delivery and GET /metrics: what the delivery watcher did, for the page and
for Prometheus."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from proxy.delivery_upkeep import snapshot
from proxy.deps import WatcherDep

router = APIRouter(tags=["delivery"])


@router.get("/api/delivery")
async def delivery(watcher: WatcherDep, room: str | None = None) -> dict[str, Any]:
    """Tracked dispatches (pending, waiting for a worker, joined, lost), the watcher's
    events and its counters; `room` narrows both to one room."""
    return snapshot(watcher, room)


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus text format: dispatches requested, delivered, re-dispatched and lost,
    and the dispatch-to-agent histogram."""
    body = request.app.state.watcher.metrics.exposition()
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
