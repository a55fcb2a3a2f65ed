"""The proxy's HTTP app: one LiveKitAPI client, the routers (tokens, dispatch, rooms,
status, page), CORS and the one error shape."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from devstack.livekit import settings_client
from devstack.settings import Settings
from proxy.dispatcher import Dispatcher
from proxy.errors import ERROR_RESPONSES, install_error_handlers
from proxy.routes import dispatch, page, rooms, status, tokens

logger = logging.getLogger("devstack.proxy")


def allowed_origins(settings: Settings) -> list[str]:
    """The page's own origins, plus PROXY_CORS_ORIGINS."""
    hosts = ("localhost", "127.0.0.1", settings.proxy_host)
    own = {f"http://{h}:{settings.proxy_port}" for h in hosts}
    return sorted(own | set(settings.cors_origins))


def create_app(settings: Settings) -> FastAPI:
    """Build the app around one LiveKitAPI client for the server in `settings`."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        lk = settings_client(settings)
        app.state.settings = settings
        app.state.lk = lk
        app.state.dispatcher = Dispatcher(lk)
        logger.info(
            "proxy for %s, expecting agent_name=%r, worker health at %s",
            settings.livekit_url,
            settings.livekit_agent_name,
            settings.worker_health_url,
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
        allow_origins=allowed_origins(settings),
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type"],
    )
    install_error_handlers(app, settings.livekit_url)
    for module in (tokens, dispatch, rooms, status, page):
        app.include_router(module.router)
    return app
