"""The answer of GET /api/rooms/{room}/job-failures: what the worker's own log says of a
room's jobs (devstack/worker_log.py), for a page that asks every few seconds: their
failures, and their notes (warnings that block nothing, devstack/cloud_only.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class JobFailureView(BaseModel):
    """One job's failure, as its worker logged it."""

    kind: Literal["crashed", "model_files", "session"] = Field(
        description="crashed: its entrypoint raised; model_files: it could not find its "
        "model files (run download-files); session: its model services fail"
    )
    room: str
    job_id: str
    agent_name: str
    at: float = Field(description="When it was logged, epoch seconds")
    error: str = Field(description="The exception's last line, or the service's message")
    inference: bool = Field(description="The failing service is LiveKit Inference")
    count: int = Field(description="How often it was logged for this job")
    severe: bool = Field(description="An ERROR or a closing session; not a retry warning")


class JobNoteView(BaseModel):
    """A plugin of a job that needs LiveKit Cloud and runs without it (noise cancellation:
    the audio passes through unenhanced): a warning, never a failure."""

    room: str
    job_id: str
    agent_name: str
    at: float = Field(description="When it was logged, epoch seconds")
    plugin: str = Field(description="The plugin, as the warning names it")
    text: str = Field(description="The worker's warning, once per plugin and job process")


class JobFailuresResponse(BaseModel):
    room: str
    since: float = Field(description="Only failures logged from then on (epoch seconds)")
    job_failures: list[JobFailureView]
    notes: list[JobNoteView] = Field(
        default_factory=list, description="Warnings about the room's jobs that block nothing"
    )
