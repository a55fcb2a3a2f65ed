"""What livekit-server's own log says about agent workers.

No server API lists workers. The server logs every registration ("worker registered",
with agentName and workerID), every worker it closes ("closing worker"), and every job it
assigns ("assigned job to worker"), in pkg/service/agentservice.go and pkg/agent/worker.go
of v1.13.5. The stack runs the server and keeps its log in a file (scripts/livekit-server,
LIVEKIT_SERVER_LOG), so it can know every worker registered with it, whoever started it."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

STARTED = "starting LiveKit server"
REGISTERED = "worker registered"
CLOSED = "closing worker"
ASSIGNED = "assigned job to worker"
# A participant whose connection never came up (pkg/rtc/room.go): for an agent, its job
# is lost before the agent was ever in the room, so no webhook says so.
NEVER_CONNECTED = "removing participant without connection"
FOLLOW_INTERVAL = 0.1
logger = logging.getLogger("devstack.server_log")


@dataclass
class LogLine:
    at: float  # unix seconds, from the server's own timestamp
    message: str
    fields: dict[str, Any]


def parse_line(line: str) -> LogLine | None:
    """One line of the server's console log: time, level, logger, caller, message, JSON."""
    parts = line.rstrip("\n").split("\t")
    if len(parts) < 5:
        return None
    try:
        at = datetime.fromisoformat(parts[0].replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
    fields: dict[str, Any] = {}
    if len(parts) > 5:
        try:
            parsed = json.loads(parts[5])
            fields = parsed if isinstance(parsed, dict) else {}
        except ValueError:
            fields = {}
    return LogLine(at=at, message=parts[4], fields=fields)


@dataclass
class RegisteredWorker:
    worker_id: str
    agent_name: str
    registered_at: float
    jobs: list[str] = field(default_factory=list)  # job ids the server assigned to it

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "jobs_assigned": len(self.jobs)}


@dataclass
class WorkerRegistry:
    """The workers registered with the server now, rebuilt from its log lines."""

    workers: dict[str, RegisteredWorker] = field(default_factory=dict)
    server_started_at: float | None = None
    on_registered: list[Callable[[RegisteredWorker], None]] = field(default_factory=list)
    on_closed: list[Callable[[RegisteredWorker], None]] = field(default_factory=list)
    on_never_connected: list[Callable[[str, str], None]] = field(default_factory=list)

    def feed(self, line: str) -> None:
        parsed = parse_line(line)
        if parsed is None:
            return
        f = parsed.fields
        if parsed.message == STARTED:
            # A (re)started server has no workers until they register again.
            self.workers.clear()
            self.server_started_at = parsed.at
        elif parsed.message == REGISTERED and "workerID" in f:
            worker = RegisteredWorker(f["workerID"], f.get("agentName", ""), parsed.at)
            self.workers[worker.worker_id] = worker
            for callback in self.on_registered:
                callback(worker)
        elif parsed.message == CLOSED and (gone := self.workers.pop(f.get("workerID", ""), None)):
            for callback in self.on_closed:
                callback(gone)
        elif parsed.message == ASSIGNED and (w := self.workers.get(f.get("workerID", ""))):
            w.jobs.append(f.get("jobID", ""))
        elif parsed.message == NEVER_CONNECTED and "room" in f and "participant" in f:
            for callback in self.on_never_connected:
                callback(f["room"], f["participant"])

    def named(self, agent_name: str) -> list[RegisteredWorker]:
        return [w for w in self.workers.values() if w.agent_name == agent_name]

    def agent_names(self) -> list[str]:
        return sorted({w.agent_name for w in self.workers.values()})

    def registered_since(self, agent_name: str) -> float | None:
        """When the earliest worker of that name now registered registered."""
        times = [w.registered_at for w in self.named(agent_name)]
        return min(times) if times else None


def read_registry(path: Path) -> WorkerRegistry | None:
    """The registry as of now from a log file; None when there is no such file."""
    if not path.is_file():
        return None
    registry = WorkerRegistry()
    with path.open(errors="replace") as log:
        for line in log:
            registry.feed(line)
    return registry


async def follow(path: Path, registry: WorkerRegistry) -> None:
    """Feed `registry` every line written to `path`, for ever. A truncated or replaced file
    (the server restarted) is read again from its start."""
    log: BinaryIO | None = None
    pending = b""  # bytes, not text: a chunk may end inside a multi-byte character
    try:
        while True:
            try:
                on_disk = path.stat().st_ino
            except FileNotFoundError:
                on_disk = None
            if log is not None and (on_disk != os.fstat(log.fileno()).st_ino or _shrunk(log)):
                log.close()  # replaced or truncated: a new server, a new log
                log, pending = None, b""
            if log is None and on_disk is not None:
                log = path.open("rb")
                registry.workers.clear()
            chunk = log.read() if log is not None else b""
            if chunk:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    _feed(registry, line.decode(errors="replace"))
            await asyncio.sleep(FOLLOW_INTERVAL)
    finally:
        if log is not None:
            log.close()


def _shrunk(log: BinaryIO) -> bool:
    return os.fstat(log.fileno()).st_size < log.tell()


def _feed(registry: WorkerRegistry, line: str) -> None:
    """One line; a failing callback is logged, and following goes on."""
    try:
        registry.feed(line)
    except Exception:
        logger.exception("while reading a livekit-server log line: %s", line[:200])


def age(at: float | None) -> float | None:
    return None if at is None else round(time.time() - at, 1)
