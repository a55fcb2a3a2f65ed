"""Where the workers' LiveKit Inference goes, and, when it is the stack's gateway, whether
it answers and what serves each kind of model (its GET /health): for /api/health, the page
and the doctor."""

from __future__ import annotations

from typing import Any

import httpx

from devstack.local_http import client_for
from devstack.settings import Settings

TIMEOUT_SECONDS = 1.0


async def inference_status(settings: Settings) -> dict[str, Any]:
    mode = settings.inference
    out: dict[str, Any] = {
        "mode": mode,
        "setting": f"DEVSTACK_INFERENCE={settings.devstack_inference}",
        "url": settings.gateway_url if mode == "local" else None,
        "up": None,
        "stt": None,
        "tts": None,
        "llm": None,
    }
    if mode != "local":
        return out
    try:
        async with client_for(settings.gateway_url, TIMEOUT_SECONDS) as client:
            served = (await client.get(f"{settings.gateway_url}/health")).json()
    except (httpx.HTTPError, ValueError) as exc:
        return {**out, "up": False, "detail": f"{type(exc).__name__}: {exc}"}
    return {**out, "up": True, **{k: served.get(k) for k in ("stt", "tts", "llm", "eot")}}
