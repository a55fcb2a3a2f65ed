"""What livekit-server's own log says about agent workers.

No server API lists workers. The server logs every registration ("worker registered",
with agentName and workerID), every worker it closes ("closing worker"), and every job it
assigns ("assigned job to worker"), in pkg/service/agentservice.go and pkg/agent/worker.go
of v1.13.5. The stack runs the server and keeps its log in a file (scripts/livekit-server,
LIVEKIT_SERVER_LOG), so it can know every worker registered with it, whoever started it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

STARTED = "starting LiveKit server"
REGISTERED = "worker registered"
CLOSED = "closing worker"
ASSIGNED = "assigned job to worker"
FOLLOW_INTERVAL = 0.1


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
    offset, inode, pending = 0, None, ""
    while True:
        try:
            stat = path.stat()
        except FileNotFoundError:
            await asyncio.sleep(FOLLOW_INTERVAL * 5)
            continue
        if stat.st_ino != inode or stat.st_size < offset:
            offset, inode, pending = 0, stat.st_ino, ""
            registry.workers.clear()
        if stat.st_size > offset:
            with path.open("rb") as log:
                log.seek(offset)
                chunk = log.read(stat.st_size - offset)
            offset += len(chunk)
            pending += chunk.decode(errors="replace")
            *lines, pending = pending.split("\n")
            for line in lines:
                registry.feed(line)
        await asyncio.sleep(FOLLOW_INTERVAL)


def age(at: float | None) -> float | None:
    return None if at is None else round(time.time() - at, 1)
