"""Where livekit-agents uploads a session when LIVEKIT_OBSERVABILITY_URL names the proxy:
the paths LiveKit Cloud serves (livekit/agents/telemetry/traces.py), so the user's agent
sends here unchanged.

Each upload carries a JWT signed with the agent's API key and secret, with the
observability write grant (`api.ObservabilityGrants(write=True)`). The proxy checks both
with the stack's own key: anything else is 401 and nothing is stored. A body that is not
what its path takes is 400, one past the size limits 413."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from livekit import api

from devstack.errors import ApiError
from insights import otlp, recordings
from insights.dispatch import keep_dispatch
from insights.store import InsightStore

logger = logging.getLogger("devstack.insights")
router = APIRouter(prefix="/observability", tags=["insights (upload)"])
# The paths livekit-agents posts to; the write guard lets exactly these through without a
# JSON body (proxy/security.py).
UPLOAD_PATHS = frozenset(
    {f"/observability/{signal}/otlp/v0" for signal in ("traces", "logs", "metrics")}
    | {"/observability/recordings/v0"}
)

OTLP_LIMIT = 16 * 1024 * 1024  # bytes as sent; livekit-agents batches 512 records
OTLP_UNPACKED_LIMIT = 64 * 1024 * 1024
# livekit-agents records about 1 MB of stereo Ogg Opus a minute: two hours.
RECORDING_LIMIT = 128 * 1024 * 1024
UPLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "The body is not what this path takes"},
    401: {"description": "No JWT signed with the stack's key, or no observability grant"},
    413: {"description": "The body is larger than the proxy accepts"},
}
# Each signal's decoder, and the store's method that keeps what it decoded.
SIGNALS: dict[str, tuple[Callable[[bytes], list[Any]], str]] = {
    "traces": (otlp.spans, "add_spans"),
    "logs": (otlp.logs, "add_logs"),
    "metrics": (otlp.metrics, "add_metrics"),
}


def _store(request: Request) -> InsightStore:
    return request.app.state.insights


def check_upload_token(request: Request) -> None:
    settings = request.app.state.settings
    header = request.headers.get("authorization", "")
    token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    try:
        claims = api.TokenVerifier(settings.livekit_api_key, settings.livekit_api_secret).verify(
            token
        )
    except Exception:  # jwt raises many kinds; every one means "not ours"
        claims = None
    if claims is None or not (claims.observability and claims.observability.write):
        logger.warning("refused an upload to %s: no valid token", request.url.path)
        raise ApiError(
            401,
            "upload_unauthorized",
            "the upload carries no JWT signed with this stack's API key and secret, or "
            "the JWT has no observability write grant",
            "livekit-agents signs uploads with LIVEKIT_API_KEY/LIVEKIT_API_SECRET: give the "
            "worker the stack's keys (the ones in livekit.yaml).",
        )


async def read_limited(request: Request, limit: int) -> bytes:
    """The whole body, refused past `limit` bytes. Nothing is stored before it is read whole:
    a worker killed mid-upload raises ClientDisconnect here, an INFO line, not an error
    (proxy/disconnects.py)."""
    length = request.headers.get("content-length", "")
    if length.isdecimal() and (len(length) > 12 or int(length) > limit):
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "upload_too_large",
        f"the upload is larger than {limit // (1024 * 1024)} MB",
        "The proxy keeps sessions for local debugging; a larger one is not stored.",
    )


def _bad(exc: otlp.BadBodyError, path: str) -> ApiError:
    return ApiError(
        400,
        "bad_upload",
        str(exc),
        f"{path} takes what livekit-agents sends there (see insights/routes/uploads.py).",
    )


@router.post("/{signal}/otlp/v0", responses=UPLOAD_RESPONSES)
async def otlp_upload(signal: str, request: Request) -> Response:
    """OTLP/HTTP traces, logs or metrics (protobuf, gzip or not) of the agent's jobs."""
    decode, add = SIGNALS.get(signal, (None, ""))
    if decode is None:
        raise ApiError(
            404, "not_found", f"no OTLP signal {signal!r}", "Use traces, logs or metrics."
        )
    check_upload_token(request)
    raw = await read_limited(request, OTLP_LIMIT)
    encoding = request.headers.get("content-encoding")
    try:
        # Up to 64 MB to unpack and decode: off the event loop, which serves everyone.
        rows = await asyncio.to_thread(
            lambda: decode(otlp.unpack(raw, encoding, OTLP_UNPACKED_LIMIT))
        )
    except otlp.BadBodyError as exc:
        raise _bad(exc, request.url.path) from None
    sessions = await asyncio.to_thread(getattr(_store(request), add), rows)
    await keep_dispatches(request, sessions)
    # An empty Export*ServiceResponse: success, nothing rejected.
    return Response(b"", media_type="application/x-protobuf")


@router.post("/recordings/v0", responses=UPLOAD_RESPONSES)
async def recording_upload(request: Request) -> dict[str, str]:
    """The session report at a session's end: header, transcript and audio."""
    check_upload_token(request)
    raw = await read_limited(request, RECORDING_LIMIT)
    try:
        recording = await asyncio.to_thread(
            recordings.parse, request.headers.get("content-type", ""), raw
        )
    except otlp.BadBodyError as exc:
        raise _bad(exc, request.url.path) from None
    sessions = await asyncio.to_thread(_store(request).add_recording, recording)
    await keep_dispatches(request, sessions)
    logger.info(
        "session %s: report received (%d bytes of audio)", recording.job_id, len(recording.audio)
    )
    return {"job_id": recording.job_id}


async def keep_dispatches(request: Request, sessions: list[dict[str, Any]]) -> None:
    """Keep each session's dispatch with it, with all the stack learns of it meanwhile: the
    watcher forgets a room once it is gone, the session keeps what it knew."""
    for row in sessions:
        await keep_dispatch(request.app.state, row)
