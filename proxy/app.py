"""The proxy's HTTP API: tokens, explicit dispatch, room/worker status, and the debug page."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import aiohttp
from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, RedirectResponse
from livekit import api

from proxy.diagnose import diagnose
from proxy.dispatch import Dispatcher
from proxy.errors import ERROR_RESPONSES, ApiError, install_error_handlers, livekit_refused
from proxy.evidence import Target, gather
from proxy.models import (
    DiagnoseRequest,
    DispatchRequest,
    DispatchResponse,
    TokenRequest,
    TokenResponse,
    check_room,
)
from proxy.rooms import describe_room, find_room, room_view
from proxy.settings import ProxySettings
from proxy.tokens import mint_token, new_identity
from proxy.worker_status import WorkerStatus, fetch_worker_status

logger = logging.getLogger("devstack.proxy")
STATIC = Path(__file__).resolve().parent.parent / "static"
# Served by name only: the page's own files and the browser bundle from the npm package.
PAGE_FILES = {
    "debug.js": STATIC / "debug.js",
    "debug.css": STATIC / "debug.css",
    "livekit-client.umd.js": STATIC
    / "node_modules"
    / "livekit-client"
    / "dist"
    / "livekit-client.umd.js",
}
# How long front ends wait for an agent: @livekit/components-react uses 20 s.
AGENT_WAIT_SECONDS = 20


def _livekit(request: Request) -> api.LiveKitAPI:
    """The app's one LiveKitAPI client (one aiohttp session for every request)."""
    return request.app.state.lk


def _dispatcher(request: Request) -> Dispatcher:
    return request.app.state.dispatcher


LiveKit = Annotated[api.LiveKitAPI, Depends(_livekit)]
DispatcherDep = Annotated[Dispatcher, Depends(_dispatcher)]


def worker_warning(agent_name: str, worker: WorkerStatus) -> str | None:
    """Why a dispatch that the server accepted may still bring no agent, if we can tell."""
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


def create_app(settings: ProxySettings) -> FastAPI:
    """Build the app around one LiveKitAPI client for the server in `settings`."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # failover=False: a local server has no other region to try; fail fast instead.
        lk = api.LiveKitAPI(
            settings.livekit_http_url,
            settings.api_key,
            settings.api_secret,
            timeout=aiohttp.ClientTimeout(total=5),
            failover=False,
        )
        app.state.lk = lk
        app.state.dispatcher = Dispatcher(lk)
        logger.info(
            "proxy for %s, expecting agent_name=%r, worker health at %s",
            settings.livekit_url,
            settings.agent_name,
            settings.agent_health_url,
        )
        yield
        await app.state.dispatcher.aclose()
        await lk.aclose()

    app = FastAPI(
        title="livekit-devstack proxy",
        description="Tokens, explicit agent dispatch, and the state needed to tell why an agent "
        "did not join. Every error has the shape {error, detail, hint}.",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type"],
    )
    install_error_handlers(app, settings.livekit_url)

    def agent_name_for(requested: str | None) -> str:
        name = settings.agent_name if requested is None else requested
        if not name:
            raise ApiError(
                422,
                "no_agent_name",
                "agent_name is empty: an unnamed worker is dispatched automatically into every "
                "new room and can never be dispatched explicitly",
                "Pass agent_name, or set LIVEKIT_AGENT_NAME in .env (read by worker and proxy).",
            )
        return name

    @app.post("/api/token", response_model=TokenResponse, tags=["tokens"])
    async def create_token(body: TokenRequest, lk: LiveKit) -> TokenResponse:
        """A join token; with dispatch='token' it also asks the server to dispatch the agent."""
        agent_name = agent_name_for(body.agent_name) if body.dispatch == "token" else None
        identity = body.identity or new_identity()
        token = mint_token(
            api_key=settings.api_key,
            api_secret=settings.api_secret,
            room=body.room,
            identity=identity,
            name=body.name,
            agent_name=agent_name,
            metadata=body.metadata,
            ttl=timedelta(seconds=body.ttl_seconds),
        )
        warning = None
        if agent_name is not None and (existing := await find_room(lk, body.room)) is not None:
            # The server reads the token's room config only when this join creates the room.
            warning = (
                f"room {body.room} already exists ({existing.num_participants} participants), so "
                "the agent dispatch in this token will be ignored; use a new room name or "
                "POST /api/dispatch-agent"
            )
        logger.info(
            "token minted: room=%s identity=%s dispatch=%s agent_name=%s%s",
            body.room,
            identity,
            body.dispatch,
            agent_name or "-",
            f" WARNING {warning}" if warning else "",
        )
        return TokenResponse(
            server_url=settings.livekit_url,
            token=token,
            room=body.room,
            identity=identity,
            dispatch=body.dispatch,
            agent_name=agent_name,
            warning=warning,
        )

    @app.post("/api/dispatch-agent", response_model=DispatchResponse, tags=["dispatch"])
    async def dispatch_agent(body: DispatchRequest, dispatcher: DispatcherDep) -> DispatchResponse:
        """Dispatch the agent into a room (created if needed). Idempotent per room and agent
        name while that agent is pending or present; dispatches again once it has left."""
        agent_name = agent_name_for(body.agent_name)
        outcome = await dispatcher.ensure(body.room, agent_name, body.metadata)
        warning = worker_warning(agent_name, await fetch_worker_status(settings.agent_health_url))
        if warning:
            logger.warning("dispatch %s: %s", outcome.dispatch_id, warning)
        return DispatchResponse(
            success=True,
            room=body.room,
            dispatch_id=outcome.dispatch_id,
            agent_name=agent_name,
            room_existed=outcome.room_existed,
            already_dispatched=outcome.already_dispatched,
            message=outcome.message,
            replaced_dispatch_id=outcome.replaced_dispatch_id,
            warning=warning,
        )

    @app.get("/api/rooms", tags=["rooms"])
    async def list_rooms(lk: LiveKit) -> dict[str, Any]:
        """Every active room."""
        rooms = await lk.room.list_rooms(api.ListRoomsRequest())
        return {"rooms": [room_view(r) for r in rooms.rooms]}

    @app.get("/api/rooms/{room}", tags=["rooms"])
    async def get_room(room: str, lk: LiveKit) -> dict[str, Any]:
        """Participants (kind AGENT/STANDARD, attributes, tracks) and dispatches with jobs."""
        try:
            name = check_room(room)
        except ValueError as exc:
            raise ApiError(
                422, "invalid_request", f"room: {exc}", getattr(exc, "hint", "")
            ) from None
        described = await describe_room(lk, name)
        if described is None:
            raise ApiError(
                404,
                "room_not_found",
                f"room {name!r} does not exist on {settings.livekit_url}",
                "A room exists while someone is in it, or until its empty/departure timeout ends.",
            )
        return described

    @app.get("/api/health", tags=["status"])
    async def health(lk: LiveKit) -> dict[str, Any]:
        """Is livekit-server up with our keys, is a worker up, and do the agent names match?"""
        server: dict[str, Any] = {
            "url": settings.livekit_url,
            "reachable": False,
            "keys_accepted": False,
        }
        try:
            rooms = await lk.room.list_rooms(api.ListRoomsRequest())
            server.update(reachable=True, keys_accepted=True, num_rooms=len(rooms.rooms))
        except api.TwirpError as exc:
            server.update(reachable=True, detail=livekit_refused(settings.livekit_url, exc).detail)
        except (aiohttp.ClientError, TimeoutError) as exc:
            server["detail"] = f"{type(exc).__name__}: {exc}"
        worker = await fetch_worker_status(settings.agent_health_url)
        return {
            "livekit": server,
            "worker": worker.to_dict(),
            "expected_agent_name": settings.agent_name,
            "names_match": worker.agent_name == settings.agent_name if worker.reachable else None,
        }

    @app.post("/api/diagnose", tags=["status"])
    async def diagnose_room(body: DiagnoseRequest) -> dict[str, Any]:
        """Why did the agent not join? Checks with evidence and a one-sentence verdict
        (the same engine as `devstack doctor`)."""
        target = Target(
            url=settings.livekit_url,
            api_key=settings.api_key,
            api_secret=settings.api_secret,
            worker_url=settings.agent_health_url,
            agent_name=settings.agent_name if body.agent_name is None else body.agent_name,
            room=body.room,
            token=body.token,
            probe=body.probe,
        )
        result = diagnose(await gather(target), settings.load_threshold)
        logger.info(
            "diagnosis: room=%s cause=%s: %s", body.room or "-", result.cause, result.verdict
        )
        return result.to_dict()

    @app.get("/api/config", tags=["status"])
    async def page_config() -> dict[str, Any]:
        """What the debug page needs to start: the server URL and the expected agent name."""
        return {
            "server_url": settings.livekit_url,
            "agent_name": settings.agent_name,
            "agent_wait_timeout": AGENT_WAIT_SECONDS,
        }

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/debug")

    @app.get("/debug", include_in_schema=False)
    async def debug_page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/static/{name}", include_in_schema=False)
    async def static_file(name: str) -> FileResponse:
        path = PAGE_FILES.get(name)
        if path is None:
            raise ApiError(
                404, "not_found", f"no static file {name!r}", "The debug page is at /debug."
            )
        if not path.exists():
            raise ApiError(
                503,
                "asset_missing",
                f"{path.relative_to(STATIC.parent)} is not installed",
                "Run `make dev` (or scripts/setup), which installs the npm packages in static/.",
            )
        return FileResponse(path, headers={"Cache-Control": "no-cache"})

    return app
