"""Which jobs the server gave up count against a dispatch: the server's log lines as
livekit-server v1.13.5 writes them, judged against the room's dispatches."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from devstack.server_log import NO_CAPACITY, NO_WORKER, NOT_ASSIGNED, WorkerRegistry
from doctor.evidence import DispatchFacts, RoomFacts
from doctor.gather import gave_up

pytestmark = pytest.mark.unit


def line(
    at: float,
    room: str,
    error: str,
    retry: bool = False,
    message: str = NOT_ASSIGNED,
    job_id: str = "AJ_x",
) -> str:
    stamp = (
        datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )
    fields: dict[str, object] = {"jobID": job_id, "agentName": "a", "room": room, "error": error}
    if message == NOT_ASSIGNED:
        fields["retry"] = retry
    return "\t".join(
        [stamp, "WARN", "livekit.agents", "service/agentservice.go:428", message,
         json.dumps(fields)]
    )  # fmt: skip


def room(age_seconds: float) -> RoomFacts:
    return RoomFacts("r", True, dispatches=[DispatchFacts("AD_new", "a", 0, age_seconds)])


def test_only_a_deadline_after_the_newest_dispatch_counts() -> None:
    now = time.time()
    registry = WorkerRegistry()
    registry.feed(line(now - 60, "r", "context deadline exceeded"))  # an older dispatch's
    registry.feed(line(now - 7, "r", "context canceled"))  # the room went meanwhile
    registry.feed(line(now - 7, "r", "context deadline exceeded", retry=True))  # retried
    assert gave_up(registry, room(age_seconds=10), "a") == []
    registry.feed(line(now - 7, "r", "context deadline exceeded"))  # 3 s after it was made
    (job,) = gave_up(registry, room(age_seconds=10), "a")
    assert job["error"] == "context deadline exceeded"
    assert gave_up(registry, room(age_seconds=10), "another-name") == []


def test_a_job_no_worker_had_room_for_counts_at_once() -> None:
    """No capacity is decided right after the job request's 200 ms window, not after the
    3 s deadline; "no workers available" (none of that name registered) is not this."""
    now = time.time()
    registry = WorkerRegistry()
    registry.feed(line(now - 9.9, "r", "no workers available", message=NO_WORKER))
    assert gave_up(registry, room(age_seconds=10), "a") == []
    registry.feed(line(now - 60, "r", NO_CAPACITY, message=NO_WORKER))  # an older dispatch's
    assert gave_up(registry, room(age_seconds=10), "a") == []
    registry.feed(line(now - 9.7, "r", NO_CAPACITY, message=NO_WORKER))
    (job,) = gave_up(registry, room(age_seconds=10), "a")
    assert job["error"] == NO_CAPACITY


def test_a_job_every_worker_declined_is_not_a_lack_of_room() -> None:
    """A worker that answers "not available" (its request_fnc rejected the job, it is
    draining) is logged with retry true; the server then runs out of workers and logs the
    same "no workers with sufficient capacity". That job was declined: not given up."""
    now = time.time()
    registry = WorkerRegistry()
    registry.feed(line(now - 9.8, "r", "worker not available", retry=True, job_id="AJ_d"))
    registry.feed(line(now - 9.8, "r", NO_CAPACITY, message=NO_WORKER, job_id="AJ_d"))
    assert gave_up(registry, room(age_seconds=10), "a") == []
    registry.feed(line(now - 9.7, "r", NO_CAPACITY, message=NO_WORKER, job_id="AJ_n"))
    (job,) = gave_up(registry, room(age_seconds=10), "a")
    assert job["job_id"] == "AJ_n"
