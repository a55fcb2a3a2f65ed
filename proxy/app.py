"""The proxy's HTTP app: one LiveKitAPI client, the routers (tokens, connection details,
dispatch, rooms, status, page), the request guards (Host, CORS, cross-site writes) and the
one error shape."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from devstack.livekit import settings_client
from devstack.server_log import WorkerRegistry, follow
from devstack.settings import Settings
from devstack.worker_log import WorkerLogs
from insights.routes import sessions, uploads
from insights.store import InsightStore
from proxy.delivery import DeliveryWatcher
from proxy.delivery_rescues import ServerLogRescues
from proxy.delivery_upkeep import sweep
from proxy.disconnects import QuietDisconnects
from proxy.dispatcher import Dispatcher
from proxy.durable import DurableState, restore, save_on_change
from proxy.errors import ERROR_RESPONSES, install_error_handlers
from proxy.metrics import DeliveryMetrics
from proxy.models import ROOM_SCHEMA
from proxy.routes import (
    agents,
    connection_details,
    delivery,
    dispatch,
    page,
    rooms,
    status,
    tokens,
    webhooks,
)
from proxy.security import CORS_HEADERS, HostGuard, allowed_hosts, allowed_origins, write_guard

logger = logging.getLogger("devstack.proxy")


def create_app(settings: Settings) -> FastAPI:
    """Build the app around one LiveKitAPI client for the server in `settings`."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        lk = settings_client(settings)
        registry = WorkerRegistry()
        watcher = DeliveryWatcher(lk, registry, DeliveryMetrics(), settings.redispatch)
        app.state.rescues = ServerLogRescues(watcher, registry)
        app.state.settings = settings
        app.state.insights = await asyncio.to_thread(InsightStore, settings.state_dir)
        app.state.lk = lk
        app.state.registry = registry
        app.state.watcher = watcher
        app.state.dispatcher = Dispatcher(lk, watcher)
        # Before the server's log is read: what it says again from its start (a worker
        # registered meanwhile) then acts on the dispatches this proxy followed before.
        store = DurableState(settings.state_dir, str(settings.proxy_port))
        saved = await asyncio.to_thread(store.load)
        app.state.resumed = restore(watcher, saved) if saved else 0
        save = save_on_change(watcher, store)
        # Followed as it grows: the page asks for a room's job failures every few seconds.
        app.state.worker_logs = WorkerLogs(settings.state_dir)
        app.state.started_at = time.time()
        if saved:
            logger.info("resumed %d followed dispatches from %s", app.state.resumed, store.path)
        background = [
            *(
                asyncio.create_task(follow(path, registry, node))
                for node, path in settings.server_logs.items()
            ),
            asyncio.create_task(sweep(watcher)),
        ]
        logger.info(
            "proxy for %s, expecting agent_name=%r, worker health at %s, workers from %s, "
            "re-dispatch %s, agent sessions at %s/sessions (%s)",
            settings.livekit_url,
            settings.livekit_agent_name,
            settings.worker_health_url,
            ", ".join(str(p) for p in settings.server_logs.values()),
            settings.agent_redispatch,
            settings.observability_url,
            "DEVSTACK_INSIGHTS=on" if settings.insights else "DEVSTACK_INSIGHTS=off: not recorded",
        )
        yield
        for task in background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await watcher.aclose()
        save()  # a clean stop: once more, should the last write have failed
        await lk.aclose()

    origins = allowed_origins(settings)
    app = FastAPI(
        title="livekit-devstack proxy",
        description="Tokens, explicit agent dispatch, and the state needed to tell why an agent "
        "did not join. Every error has the shape {error, detail, hint}.",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
        dependencies=[Depends(write_guard(frozenset(origins), uploads.UPLOAD_PATHS))],
    )
    # The last middleware added runs first: the Host check before CORS answers anything.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=["GET", "POST"],
        allow_headers=list(CORS_HEADERS),
    )
    app.add_middleware(HostGuard, hosts=allowed_hosts(settings), origins=frozenset(origins))
    # Outermost of ours, inside Starlette's own error middleware: a client that went away
    # is an INFO line wherever it is noticed, never an "Exception in ASGI application".
    app.add_middleware(QuietDisconnects)
    install_error_handlers(app, settings.livekit_url)
    routers = (
        tokens,
        connection_details,
        dispatch,
        agents,
        rooms,
        sessions,
        status,
        delivery,
        webhooks,
        uploads,
    )
    for module in (*routers, page):
        app.include_router(module.router)
    document_room_path(app)
    return app


def document_room_path(app: FastAPI) -> None:
    """Put the room-name rule into the schema of the {room} path parameter: the route
    checks it by hand (check_room), so FastAPI cannot see it, and a client built from
    /openapi.json would otherwise send names the proxy refuses."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()  # FastAPI keeps it in app.openapi_schema: amended once
            for operations in schema["paths"].values():
                for operation in operations.values():
                    for parameter in operation.get("parameters", []):
                        if parameter["in"] == "path" and parameter["name"] == "room":
                            parameter["schema"].update(ROOM_SCHEMA)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
