"""Reading what the worker's own log says about its jobs (pure parsing, over lines that
livekit-agents 1.8.9 and 1.2.18 printed in this project's runs), and following the log as
it grows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devstack.worker_log import WorkerLogs, failures_in, read_failures

pytestmark = pytest.mark.unit

EXTRA = {"pid": 9230, "job_id": "AJ_tJFLDT6tDrhB", "room": "room-c", "agent_name": "crasher"}
CRASH = [
    "2026-12-03 11:32:52,940 - \x1b[31mERROR\x1b[0m livekit.agents - unhandled exception while running the job task",
    "Traceback (most recent call last):",
    '  File "/tmp/exp/crash.py", line 5, in entry',
    '    raise RuntimeError("database URL is not set (DATABASE_URL)")',
    f"RuntimeError: database URL is not set (DATABASE_URL) \x1b[90m{json.dumps(EXTRA)}\x1b[0m",
    # The job process prints the same traceback to stderr, without the extra fields.
    "Traceback (most recent call last):",
    "RuntimeError: database URL is not set (DATABASE_URL)[supervisor] agent: exited",
]
INFERENCE = (
    "2026-12-03 11:32:54,403 - WARNING livekit.agents - failed to recognize speech: failed to "
    "connect to LiveKit Inference STT (caused by ConnectionRefusedError: [Errno 111] Connect "
    'call failed), retrying in 0.1s {"stt": "livekit.agents.inference.stt.STT", "attempt": 0, '
    '"pid": 9238, "job_id": "AJ_jF2TiBh9UshQ", "room": "room-i", "agent_name": "inferer"}'
)
MODEL_FILES = [
    "2026-12-03 11:40:01,100 - ERROR livekit.agents - unhandled exception while running the job task",
    "Traceback (most recent call last):",
    'RuntimeError: Could not find file "languages.json". Make sure you have downloaded the model '
    "before running the agent. Use `python -m livekit.agents download-files` to download the "
    'model. {"job_id": "AJ_turn", "room": "room-t", "agent_name": "turn"}',
]


def test_a_crashed_job_gives_its_exception_line_and_room() -> None:
    (failure,) = failures_in(CRASH)
    assert failure.kind == "crashed"
    assert failure.error == "RuntimeError: database URL is not set (DATABASE_URL)"
    assert (failure.room, failure.job_id, failure.agent_name) == (
        "room-c",
        "AJ_tJFLDT6tDrhB",
        "crasher",
    )


def test_a_session_that_cannot_reach_inference_is_counted_once_per_job() -> None:
    (failure,) = failures_in([INFERENCE] * 3 + ["2026-12-03 11:32:55,000 - INFO x - fine"])
    assert failure.kind == "session" and failure.inference and failure.count == 3
    assert failure.error.startswith(
        "failed to recognize speech: failed to connect to LiveKit Inference STT"
    )


def test_one_retry_that_worked_is_not_a_failing_session() -> None:
    assert failures_in([INFERENCE]) == []
    closing = INFERENCE.replace("WARNING", "ERROR")  # an error counts at once
    assert len(failures_in([closing])) == 1


def test_missing_model_files_are_told_from_other_crashes() -> None:
    (failure,) = failures_in(MODEL_FILES)
    assert failure.kind == "model_files" and failure.room == "room-t"


def test_livekit_agents_1_2_json_records_are_read() -> None:
    record = {
        "message": "unhandled exception while running the job task",
        "level": "ERROR",
        "name": "livekit.agents",
        "job_id": "AJ_old",
        "room_name": "room-old",
        "exc_info": "Traceback (most recent call last):\nValueError: bad prompt",
        "timestamp": "2026-12-03T11:49:57.340000+00:00",
    }
    (failure,) = failures_in([json.dumps(record)])
    assert (failure.kind, failure.room, failure.error) == (
        "crashed",
        "room-old",
        "ValueError: bad prompt",
    )


def test_lines_without_a_job_are_not_failures() -> None:
    worker_level = (
        "2026-12-03 11:32:54,211 - WARNING livekit.agents - event loop blocked for 248ms "
        '{"duration": 0.25}'
    )
    assert failures_in([worker_level, "[agent] warning: download-files failed for x"]) == []


def append(log: Path, *lines: str) -> None:
    with log.open("a", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))


@pytest.fixture
def worker_log(tmp_path: Path) -> Path:
    """An empty worker log where the supervisor keeps it (logs/agent*.log)."""
    log = tmp_path / "logs" / "agent-crasher.log"
    log.parent.mkdir()
    log.write_text("")
    return log


def test_a_followed_log_gives_each_new_failure_as_it_is_written(worker_log: Path) -> None:
    """The proxy reads on from where it stopped: a crash written between two looks is found
    by the second, a session closing on its last line is found at once."""
    logs = WorkerLogs(worker_log.parent.parent)
    assert logs.failures() == []
    append(worker_log, *CRASH[:3])  # the record is still being written
    append(worker_log, *CRASH[3:])
    (crash,) = logs.failures(room="room-c")
    assert crash.error == "RuntimeError: database URL is not set (DATABASE_URL)"
    append(worker_log, INFERENCE.replace("WARNING", "ERROR"))
    assert [f.kind for f in logs.failures()] == ["crashed", "session"]
    assert logs.failures(room="room-i", since=crash.at + 60) == []


def test_retries_counted_across_reads_are_counted_once(worker_log: Path) -> None:
    """Three retry warnings of one job, read in three looks, make one failing session."""
    logs = WorkerLogs(worker_log.parent.parent)
    for _ in range(2):
        append(worker_log, INFERENCE)
        assert logs.failures() == []
    append(worker_log, INFERENCE)
    assert [(f.kind, f.count) for f in logs.failures()] == [("session", 3)]
    assert [(f.kind, f.count) for f in logs.failures()] == [("session", 3)]


def test_a_log_begun_anew_forgets_the_old_failures(worker_log: Path) -> None:
    """A new `make dev` empties the log: the old crash is gone, a new one is found."""
    logs = WorkerLogs(worker_log.parent.parent)
    append(worker_log, *CRASH)
    assert len(logs.failures()) == 1
    worker_log.write_text("")
    assert logs.failures() == []
    append(worker_log, *MODEL_FILES)
    assert [f.kind for f in logs.failures()] == ["model_files"]


def test_the_doctors_one_look_reads_the_same(worker_log: Path) -> None:
    """read_failures, for the doctor, finds what the followed log finds."""
    append(worker_log, *CRASH, *MODEL_FILES)
    state_dir = worker_log.parent.parent
    assert [f.kind for f in read_failures(state_dir)] == ["crashed", "model_files"]
    assert [f.room for f in read_failures(state_dir, room="room-t")] == ["room-t"]
