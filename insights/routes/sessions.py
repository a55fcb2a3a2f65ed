"""GET /api/sessions, /api/sessions/{job_id} and its audio: Agent Insights offline, one
session per agent job, from what the user's agent uploaded (routes/uploads.py) and
what the stack knows of its dispatch."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from devstack.errors import ApiError
from insights import view
from insights.dispatch import keep_dispatch
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
        "e2e_latency (seconds) where the agent recorded them"
    )
    logs: list[dict[str, Any]]
    transcript: list[dict[str, Any]] = Field(description="[{at, role, text, interrupted}]")
    errors: list[dict[str, Any]] = Field(description="Failed spans and error logs, by time")
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
    """The session's dispatch and its steps, spans, turns, logs, transcript and usage."""
    row = await asyncio.to_thread(_store(request).session, job_id)
    if row is None:
        raise _not_found(job_id)
    await keep_dispatch(request.app.state, row)
    dispatch = json.loads(row["dispatch"]) if row["dispatch"] else None
    return view.detail(row, dispatch)


@router.get(
    "/{job_id}/audio",
    response_class=Response,
    responses={200: {"content": {"audio/ogg": {}}}, 404: {}},
)
async def get_audio(job_id: JobId, request: Request) -> Response:
    """The session's recording (Ogg Opus), as livekit-agents recorded it."""
    audio = await asyncio.to_thread(_store(request).audio, job_id)
    if audio is None:
        raise ApiError(
            404,
            "audio_not_found",
            f"no audio was uploaded for job {job_id!r}",
            "The agent uploads its recording at the session's end, when the session records "
            "audio (AgentSession.start(record=...)).",
        )
    return Response(audio, media_type="audio/ogg", headers={"Cache-Control": "no-cache"})
