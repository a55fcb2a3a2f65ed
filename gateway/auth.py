"""The gateway's door: every request carries `Authorization: Bearer <JWT>`, HS256, signed
with the stack's API key and secret and granting `inference.perform`, as livekit-agents
makes it (inference/_utils.py create_access_token). Anything else is 401 and nothing else
happens: a WebSocket is refused before it is accepted."""

from __future__ import annotations

import logging

from fastapi import Request, WebSocket
from fastapi.responses import JSONResponse
from livekit import api

from devstack.errors import ApiError, error_body

logger = logging.getLogger("devstack.gateway")
HINT = (
    "livekit-agents signs Inference requests with LIVEKIT_INFERENCE_API_KEY/_SECRET (or "
    "LIVEKIT_API_KEY/_SECRET): give the worker the stack's keys, as `make dev` does."
)


def authorized(headers: dict[str, str] | object, key: str, secret: str) -> bool:
    """Whether the Authorization header is a JWT of ours granting inference.perform."""
    header = headers.get("authorization", "")  # type: ignore[attr-defined]
    if not header.startswith("Bearer "):
        return False
    try:
        claims = api.TokenVerifier(key, secret).verify(header.removeprefix("Bearer ").strip())
    except Exception:  # jwt raises many kinds; every one means "not ours"
        return False
    return bool(claims.inference and claims.inference.perform)


def refusal(path: str) -> ApiError:
    logger.warning("refused a request to %s: no valid Inference token", path)
    return ApiError(
        401,
        "inference_unauthorized",
        "the request carries no JWT signed with this stack's API key and secret granting "
        "inference.perform",
        HINT,
    )


def check_request(request: Request) -> None:
    """FastAPI dependency for the HTTP routes."""
    settings = request.app.state.settings
    if not authorized(request.headers, settings.livekit_api_key, settings.livekit_api_secret):
        raise refusal(request.url.path)


async def admit(websocket: WebSocket) -> bool:
    """For a WebSocket route, before accept: False (and a 401 answer) when not ours."""
    settings = websocket.app.state.settings
    if authorized(websocket.headers, settings.livekit_api_key, settings.livekit_api_secret):
        return True
    err = refusal(websocket.url.path)
    await websocket.send_denial_response(
        JSONResponse(error_body(err.error, err.detail, err.hint), status_code=401)
    )
    return False
