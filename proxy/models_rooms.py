"""The answer of GET /api/rooms/{room}/job-failures: what the worker's own log says of a
room's jobs (devstack/worker_log.py), for a page that asks every few seconds."""

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


class JobFailuresResponse(BaseModel):
    room: str
    since: float = Field(description="Only failures logged from then on (epoch seconds)")
    job_failures: list[JobFailureView]
