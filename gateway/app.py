"""The gateway's HTTP app: its routers (LLM, turn detection, and the STT and TTS sockets),
the door (gateway/auth.py) on every route but /health, and the one error shape."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from devstack.errors import ApiError, error_body
from devstack.settings import Settings
from gateway import llm, turns

logger = logging.getLogger("devstack.gateway")


def create_app(settings: Settings, engines: dict[str, Any] | None = None) -> FastAPI:
    """`engines`: what serves STT and TTS (gateway/engines.py), loaded by the caller."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.engines = engines or {}
        async with httpx.AsyncClient() as client:  # the forwarded LLM's, one pool
            app.state.http = client
            yield

    app = FastAPI(
        title="livekit-devstack Inference gateway",
        description="LiveKit Inference's wire protocol, served offline. Every error has the "
        "shape {error, detail, hint}.",
        lifespan=lifespan,
    )

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.error, exc.detail, exc.hint), status_code=exc.status)

    @app.get("/health", tags=["health"])
    async def health() -> dict[str, Any]:
        """What serves which kind of model (no token needed: it says nothing secret)."""
        return describe(settings, app.state.engines)

    for module in (llm, turns):
        app.include_router(module.router)
    for name in ("stt", "tts"):
        if (engine := (engines or {}).get(name)) is not None:
            app.include_router(engine.router)
    return app


def describe(settings: Settings, engines: dict[str, Any]) -> dict[str, Any]:
    """The engines behind each kind of model name, as /health and the start line say."""
    llm_engine = (
        f"forwarded to {settings.devstack_llm_url}"
        if settings.devstack_llm_url
        else "the stand-in (no language model: it repeats what it heard)"
    )
    return {
        "stt": getattr(engines.get("stt"), "description", "none"),
        "tts": getattr(engines.get("tts"), "description", "none"),
        "llm": llm_engine,
        "eot": turns.DESCRIPTION,
    }
