"""Which jobs the server gave up count against a dispatch: the server's log lines as
livekit-server v1.13.5 writes them, judged against the room's dispatches."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from devstack.server_log import WorkerRegistry
from doctor.evidence import DispatchFacts, RoomFacts, gave_up

pytestmark = pytest.mark.unit


def line(at: float, room: str, error: str, retry: bool = False) -> str:
    stamp = (
        datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )
    fields = {"jobID": "AJ_x", "agentName": "a", "room": room, "retry": retry, "error": error}
    return "\t".join(
        [stamp, "WARN", "livekit.agents", "service/agentservice.go:428",
         "failed to assign job to worker", json.dumps(fields)]
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
