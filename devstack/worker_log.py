"""What the worker's own log says happened to its jobs after dispatch: a job whose
entrypoint raised, one that could not find its model files, a session whose model
services fail. No server API says any of this; livekit-agents logs it, with the job's
room and id as the record's extra fields, and the supervisor keeps the worker's output in
DEVSTACK_STATE_DIR/logs/<process>.log."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from devstack.cloud_only import CloudNote, cloud_note
from devstack.crash import plain
from devstack.log_lines import NewLines

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


Record = tuple[str, float, list[str]]  # (level, time, lines)


class _Records:
    """Groups log lines into records as they come; a traceback belongs to the record
    before it, so a record is known complete only once the next one starts."""

    def __init__(self) -> None:
        self.current: Record | None = None

    def feed(self, raw: str) -> Record | None:
        """Take one line; return the record it completes, if it starts a new one."""
        line = plain(raw)
        if line.startswith("{") and (record := _json_record(line)):
            return self._start(record)
        match = RECORD.match(line)
        if match:
            return self._start((match["level"], _when(match["ts"]), [match["msg"]]))
        if self.current and line and not line.startswith("["):
            self.current[2].append(line)
        return None

    def _start(self, record: Record) -> Record | None:
        done, self.current = self.current, record
        return done


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


def _note(level: str, at: float, text: list[str]) -> CloudNote | None:
    message, extra = _extra(text[0])
    return cloud_note(level, at, message, extra)


class _Tally:
    """Each job's failures, one per job and kind (the first, with how often it recurred),
    and its notes: a plugin that needs LiveKit Cloud, one per job and plugin."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], JobFailure] = {}
        self.notes: dict[tuple[str, str], CloudNote] = {}

    def add(self, record: Record) -> None:
        _count(self.seen, record)
        if (note := _note(*record)) is not None:
            self.notes.setdefault((note.job_id, note.plugin), note)

    def noted(self, pending: Record | None) -> list[CloudNote]:
        """The notes, with the record still open read as it reads now."""
        notes = dict(self.notes)
        if pending is not None and (note := _note(*pending)) is not None:
            notes.setdefault((note.job_id, note.plugin), note)
        return sorted(notes.values(), key=lambda n: n.at)

    def failing(self, pending: Record | None) -> list[JobFailure]:
        """Copies of the failures, with the record still open counted as it reads now (a
        session that closed on its error is shown before the worker logs anything else)."""
        seen = {key: replace(f) for key, f in self.seen.items()}
        if pending is not None:
            _count(seen, pending)
        # One retry that then worked is not a failing session.
        failing = [f for f in seen.values() if f.severe or f.count >= RETRIES_THAT_FAIL]
        return sorted(failing, key=lambda f: f.at)


def _count(seen: dict[tuple[str, str], JobFailure], record: Record) -> None:
    failure = _failure(*record)
    if failure is None:
        return
    key = (failure.job_id, failure.kind)
    if key in seen:
        seen[key].count += 1
        seen[key].severe |= failure.severe
    else:
        seen[key] = failure


def failures_in(lines: list[str]) -> list[JobFailure]:
    """Each job's failures in `lines`, one per job and kind."""
    records, tally = _Records(), _Tally()
    for line in lines:
        if (done := records.feed(line)) is not None:
            tally.add(done)
    return tally.failing(records.current)


def log_paths(state_dir: Path) -> list[Path]:
    """The worker logs the supervisor keeps (every `agent*` process: a pool's copies too)."""
    folder = state_dir / LOGS
    return sorted(folder.glob("agent*.log")) if folder.is_dir() else []


class _FollowedLog:
    """One worker log, read on from where the previous read stopped: a page asking every
    few seconds costs the lines written meanwhile, not the log again. Its first read takes
    the last READ_BYTES (a room's jobs are recent)."""

    def __init__(self, path: Path) -> None:
        self.lines = NewLines(path, tail=READ_BYTES)
        self._restart()

    def _restart(self) -> None:
        self.records, self.tally = _Records(), _Tally()
        self.restarts = self.lines.restarts

    def read(self) -> list[JobFailure]:
        new = self.lines()
        if self.lines.restarts != self.restarts:
            self._restart()  # cut, or begun anew by a new `make dev`: its old failures went
        for line in new:
            if (done := self.records.feed(line)) is not None:
                self.tally.add(done)
        return self.tally.failing(self.records.current)

    def notes(self) -> list[CloudNote]:
        """The notes as of the last read."""
        return self.tally.noted(self.records.current)


class WorkerLogs:
    """The job failures in the stack's worker logs, each log followed as it grows. Calls may
    come from several threads (the proxy reads in a thread per request)."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._logs: dict[Path, _FollowedLog] = {}
        self._lock = threading.Lock()

    def failures(self, *, room: str | None = None, since: float = 0) -> list[JobFailure]:
        """For `room` if given, since `since` (epoch seconds)."""
        return self.read(room=room, since=since)[0]

    def read(
        self, *, room: str | None = None, since: float = 0
    ) -> tuple[list[JobFailure], list[CloudNote]]:
        """The failures and the notes, for `room` if given, since `since` (epoch seconds)."""
        found: list[JobFailure] = []
        notes: list[CloudNote] = []
        with self._lock:
            paths = log_paths(self.state_dir)
            for gone in set(self._logs) - set(paths):
                del self._logs[gone]
            for path in paths:
                try:
                    log = self._logs.get(path) or self._logs.setdefault(path, _FollowedLog(path))
                    found += log.read()
                    notes += log.notes()
                except OSError:  # removed meanwhile: followed again if it comes back
                    self._logs.pop(path, None)

        def mine(x: JobFailure | CloudNote) -> bool:
            # A second of slack: the log's clock has millisecond stamps, the server's ages tenths.
            return (room is None or x.room == room) and x.at >= since - 1

        return [f for f in found if mine(f)], [n for n in notes if mine(n)]


def read_failures(
    state_dir: Path, *, room: str | None = None, since: float = 0
) -> list[JobFailure]:
    """The job failures in the last READ_BYTES of each of the stack's worker logs, for
    `room` if given, since `since` (the doctor's one look)."""
    return WorkerLogs(state_dir).failures(room=room, since=since)
