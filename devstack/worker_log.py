"""What the worker's own log says happened to its jobs after dispatch: a job whose
entrypoint raised, one that could not find its model files, a session whose model
services fail. No server API says any of this; livekit-agents logs it, with the job's
room and id as the record's extra fields, and the supervisor keeps the worker's output in
DEVSTACK_STATE_DIR/logs/<process>.log."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from devstack.crash import plain

LOGS = "logs"
# livekit-agents' colored format: "2026-12-03 11:32:52,940 - ERROR livekit.agents - text {extra}"
RECORD = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (?:- )?(?P<level>[A-Z]+)\s+\S+ - (?P<msg>.*)$"
)
JOB_CRASHED = "unhandled exception while running the job task"
MODEL_FILES = re.compile(
    r"Could not find (file|model)|download-files|couldn't find them in the cached files"
)
SESSION_FAILED = re.compile(
    r"AgentSession is closing due to unrecoverable error"
    r"|failed to connect to LiveKit Inference"
    r"|failed to (recognize speech|generate LLM completion|synthesize speech)\b"
)
INFERENCE = re.compile(r"LiveKit Inference|livekit\.agents\.inference")
MAX_TEXT = 300
READ_BYTES = 4 * 1024 * 1024
# A model service's retry warnings count as a failing session only this often for one job
# (livekit-agents retries 3 times); an ERROR, or the session closing, counts at once.
RETRIES_THAT_FAIL = 3


@dataclass
class JobFailure:
    """One job's failure, as its worker logged it."""

    kind: str  # "crashed" | "model_files" | "session"
    room: str
    job_id: str
    agent_name: str
    at: float  # epoch seconds
    error: str  # the exception's last line, or the failing service's message
    inference: bool = False  # the failing service is LiveKit Inference
    count: int = 1
    severe: bool = True  # an ERROR, or a closing session; a retry warning is not

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _extra(line: str) -> tuple[str, dict[str, Any]]:
    """A record line's text and its trailing JSON of extra fields."""
    start = line.rfind(" {")
    while start != -1:
        try:
            extra = json.loads(line[start + 1 :])
        except ValueError:
            start = line.rfind(" {", 0, start)
            continue
        if isinstance(extra, dict):
            return line[:start].rstrip(), extra
        break
    return line, {}


def _when(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def _json_record(line: str) -> tuple[str, float, list[str]] | None:
    """livekit-agents' JSON format (its `start` mode before 1.8): one object per record,
    the traceback in `exc_info`; re-shaped as a colored record, extras on its last line."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or "message" not in record:
        return None
    extra = {k: v for k, v in record.items() if k not in ("message", "level", "exc_info")}
    if "room" not in extra and "room_name" in extra:
        extra["room"] = extra["room_name"]
    stamp = str(record.get("timestamp", ""))
    try:
        at = datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        return None
    text = [str(record["message"]), *str(record.get("exc_info") or "").splitlines()]
    text[-1] += " " + json.dumps(extra)
    return str(record.get("level", "")), at, text


def _records(lines: list[str]) -> list[tuple[str, float, list[str]]]:
    """(level, time, lines) of each record; a traceback belongs to the record before it."""
    records: list[tuple[str, float, list[str]]] = []
    for raw in lines:
        line = plain(raw)
        if line.startswith("{") and (record := _json_record(line)):
            records.append(record)
            continue
        match = RECORD.match(line)
        if match:
            records.append((match["level"], _when(match["ts"]), [match["msg"]]))
        elif records and line and not line.startswith("["):
            records[-1][2].append(line)
    return records


def _failure(level: str, at: float, text: list[str]) -> JobFailure | None:
    if level not in ("WARNING", "ERROR", "CRITICAL"):
        return None
    # The extra fields close the record; what follows them (a traceback the job process
    # also printed to stderr) is not the record's.
    end = next((i for i in range(len(text) - 1, -1, -1) if _extra(text[i])[1]), None)
    if end is None:
        return None
    text = text[: end + 1]
    last, extra = _extra(text[-1])
    if not extra.get("job_id"):
        return None
    body = "\n".join(text)
    if text[0].startswith(JOB_CRASHED):
        kind = "model_files" if MODEL_FILES.search(body) else "crashed"
        error = last.strip()
    elif SESSION_FAILED.search(body):
        kind = "session"
        first, _ = _extra(text[0])
        # The service's own words: the retry warning's text, or the exception's last line.
        error = first if SESSION_FAILED.search(first) else last.strip()
    else:
        return None
    return JobFailure(
        kind=kind,
        room=str(extra.get("room", "")),
        job_id=str(extra["job_id"]),
        agent_name=str(extra.get("agent_name", "")),
        at=at,
        error=error[:MAX_TEXT],
        inference=bool(INFERENCE.search(body) or INFERENCE.search(json.dumps(extra))),
        severe=level != "WARNING" or "unrecoverable" in body,
    )


def failures_in(lines: list[str]) -> list[JobFailure]:
    """Each job's failures, one per job and kind (the first, with how often it recurred)."""
    seen: dict[tuple[str, str], JobFailure] = {}
    for level, at, text in _records(lines):
        failure = _failure(level, at, text)
        if failure is None:
            continue
        key = (failure.job_id, failure.kind)
        if key in seen:
            seen[key].count += 1
            seen[key].severe |= failure.severe
        else:
            seen[key] = failure
    # One retry that then worked is not a failing session.
    failing = [f for f in seen.values() if f.severe or f.count >= RETRIES_THAT_FAIL]
    return sorted(failing, key=lambda f: f.at)


def log_paths(state_dir: Path) -> list[Path]:
    """The worker logs the supervisor keeps (every `agent*` process: a pool's copies too)."""
    folder = state_dir / LOGS
    return sorted(folder.glob("agent*.log")) if folder.is_dir() else []


def _tail(path: Path) -> str:
    """The log's last READ_BYTES (the page asks every 2 s; a room's jobs are recent)."""
    with path.open("rb") as f:
        size = f.seek(0, 2)
        f.seek(max(0, size - READ_BYTES))
        return f.read().decode(errors="replace")


def read_failures(
    state_dir: Path, *, room: str | None = None, since: float = 0
) -> list[JobFailure]:
    """The job failures in the stack's worker logs, for `room` if given, since `since`."""
    found: list[JobFailure] = []
    for path in log_paths(state_dir):
        try:
            lines = _tail(path).splitlines()
        except OSError:
            continue
        found += failures_in(lines)
    return [
        f for f in found if (room is None or f.room == room) and f.at >= since - 1
    ]  # a second of slack: the log's clock has millisecond stamps, the server's ages tenths
