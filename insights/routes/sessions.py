"""GET /api/sessions, /api/sessions/{job_id} and its audio: Agent Insights offline, one
session per agent job, from what the user's agent uploaded (routes/uploads.py) and
what the stack knows of its dispatch."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from devstack.errors import ApiError, ErrorBody, error_body
from insights import view
from insights.dispatch import keep_dispatch
from insights.ranges import UnsatisfiableRangeError, byte_range
from insights.store import InsightStore

router = APIRouter(prefix="/api/sessions", tags=["sessions"])
JOB_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
JobId = Annotated[str, Path(pattern=JOB_ID_PATTERN, description="The agent job's id (AJ_...)")]


class SessionSummary(BaseModel):
    job_id: str
    room: str = Field(description="'' until a log line or the report names it")
    agent_name: str = Field(description="'' for an unnamed (automatically dispatched) worker")
    started_at: float | None = Field(description="Unix seconds of the first span or log")
    duration_s: float | None
    spans: int
    logs: int
    transcript_items: int
    has_audio: bool
    reported: bool = Field(description="The session report (transcript, audio) arrived")


class SessionList(BaseModel):
    sessions: list[SessionSummary]
    insights: bool = Field(description="Whether the stack asks agents to upload sessions")


class SessionDetail(BaseModel):
    job_id: str
    room: str
    room_id: str
    agent_name: str
    started_at: float | None
    ended_at: float | None
    duration_s: float | None
    dispatch: dict[str, Any] | None = Field(
        description="room, agent_name, dispatch_id, source (explicit, token, automatic), "
        "redispatches and steps [{at, step, detail}] from the watcher and the server's log"
    )
    spans: list[dict[str, Any]] = Field(description="Root spans, each with its children")
    turns: list[dict[str, Any]] = Field(
        description="Each *_turn span with end_of_turn_delay, llm_ttft, tts_ttfb, "
        "e2e_latency (seconds) where the agent recorded them, and `metrics`: the metric "
        "points of that turn [{name, at, value, unit ('s' or '1'), model, attributes, "
        "placed_by ('value': the turn's own figure; 'window': the only turn measured in "
        "the point's export window)}]"
    )
    metrics: list[dict[str, Any]] = Field(
        description="The session's other metric points, in the shape of a turn's: ones "
        "that sum several turns (livekit-agents exports sums every 30 s and at the end) or "
        "belong to none"
    )
    logs: list[dict[str, Any]]
    transcript: list[dict[str, Any]] = Field(description="[{at, role, text, interrupted}]")
    errors: list[dict[str, Any]] = Field(description="Failed spans and error logs, by time")
    warnings: list[str] = Field(
        description="What limits what the session shows, e.g. a worker that ran other jobs "
        "in the same process without the stack's stamp on each log line"
    )
    usage: Any = Field(description="Model usage from the session report")
    audio: dict[str, Any]
    reported: bool


def _store(request: Request) -> InsightStore:
    return request.app.state.insights


def _not_found(job_id: str) -> ApiError:
    return ApiError(
        404,
        "session_not_found",
        f"no session of job {job_id!r} was uploaded",
        "Sessions appear once the agent uploads (spans every few seconds, the transcript and "
        "audio at the session's end); GET /api/sessions lists them.",
    )


@router.get("", response_model=SessionList)
async def list_sessions(request: Request) -> dict[str, Any]:
    """Every stored session, newest first."""
    rows = await asyncio.to_thread(_store(request).sessions)
    for row in rows:
        if not row["dispatch"]:
            # An upload can come before the server's log line of its job's assignment.
            await keep_dispatch(request.app.state, row)
    return {
        "sessions": [view.summary(r) for r in rows],
        "insights": request.app.state.settings.insights,
    }


@router.get("/{job_id}", response_model=SessionDetail, responses={404: {}})
async def get_session(job_id: JobId, request: Request) -> dict[str, Any]:
    """The session's dispatch and its steps, spans, turns (with their metric points),
    logs, transcript and usage."""
    row = await asyncio.to_thread(_store(request).session, job_id)
    if row is None:
        raise _not_found(job_id)
    await keep_dispatch(request.app.state, row)
    dispatch = json.loads(row["dispatch"]) if row["dispatch"] else None
    metrics = await asyncio.to_thread(_store(request).metrics, job_id)
    return view.detail(row, dispatch, metrics)


AUDIO_HEADERS = {
    "Accept-Ranges": {"description": "`bytes`: a range of the audio can be asked for"},
    "Cache-Control": {"description": "`no-cache`"},
}
AUDIO_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"audio/ogg": {}},
        "description": "The whole recording",
        "headers": AUDIO_HEADERS,
    },
    206: {
        "content": {"audio/ogg": {}},
        "description": "The one range the Range header asked for",
        "headers": {
            **AUDIO_HEADERS,
            "Content-Range": {"description": "`bytes first-last/size`"},
        },
    },
    404: {"description": "No such session, or no audio uploaded for it"},
    416: {
        "model": ErrorBody,
        "description": "The range starts past the audio's end",
        "headers": {"Content-Range": {"description": "`bytes */size`"}},
    },
}


@router.get("/{job_id}/audio", response_class=Response, responses=AUDIO_RESPONSES)
async def get_audio(
    job_id: JobId,
    request: Request,
    range_header: Annotated[
        str | None,
        Header(
            alias="Range",
            description="One byte range: `bytes=first-last`, `bytes=first-` or "
            "`bytes=-suffix`; another unit or several ranges get the whole recording",
        ),
    ] = None,
) -> Response:
    """The session's recording (Ogg Opus), as livekit-agents recorded it; with a Range
    header, that range (206), so a player seeks before the whole file has loaded."""
    audio = await asyncio.to_thread(_store(request).audio, job_id)
    if audio is None:
        raise ApiError(
            404,
            "audio_not_found",
            f"no audio was uploaded for job {job_id!r}",
            "The agent uploads its recording at the session's end, when the session records "
            "audio (AgentSession.start(record=...)).",
        )
    headers = {"Cache-Control": "no-cache", "Accept-Ranges": "bytes"}
    try:
        asked = byte_range(range_header, len(audio))
    except UnsatisfiableRangeError:
        # ApiError carries no headers, and a 416 must say the size (RFC 9110 §15.5.17).
        return JSONResponse(
            error_body(
                "range_not_satisfiable",
                f"Range {range_header!r} holds no byte of the recording, which is "
                f"{len(audio)} bytes",
                f"Ask for bytes 0 to {len(audio) - 1}, or leave Range out for all of it.",
            ),
            status_code=416,
            headers={**headers, "Content-Range": f"bytes */{len(audio)}"},
        )
    if asked is None:
        return Response(audio, media_type="audio/ogg", headers=headers)
    return Response(
        asked.of(audio),
        status_code=206,
        media_type="audio/ogg",
        headers={**headers, "Content-Range": asked.content_range},
    )
