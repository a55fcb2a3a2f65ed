"""What livekit-server's own log says about agent workers.

No server API lists workers. The server logs every registration ("worker registered",
with agentName and workerID), every worker it closes ("closing worker"), and every job it
assigns ("assigned job to worker") or gives up ("failed to assign job to worker", "no
worker available to handle job"), in pkg/service/agenthandler.go (agentservice.go before
v1.13.11) and pkg/agent/worker.go. The stack runs the server and keeps its log in a file (scripts/livekit-server,
LIVEKIT_SERVER_LOG), so it can know every worker registered with it, whoever started it."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from devstack.log_lines import WholeLines

STARTED = "starting LiveKit server"
REGISTERED = "worker registered"
CLOSED = "closing worker"
ASSIGNED = "assigned job to worker"
# A participant whose connection never came up (pkg/rtc/room.go): for an agent, its job
# is lost before the agent was ever in the room, so no webhook says so.
NEVER_CONNECTED = "removing participant without connection"
# A job no worker took in time (pkg/service/agentservice.go): with retry false and a
# deadline error, the job request's psrpc deadline (3 s, psrpc's default client timeout)
# passed before the worker answered; the server gives the job up and never tries again,
# the dispatch stays with 0 jobs and no webhook says so. (Other errors with retry false,
# such as a room torn down meanwhile, are not this.)
NOT_ASSIGNED = "failed to assign job to worker"
# The request is sent once the dispatch exists, so its failure comes at least 3 s after the
# dispatch was created (both on the server's clock); an earlier one is an older dispatch's.
GAVE_UP_AFTER_SECONDS = 2.5
# A job no worker could take (pkg/service/agentservice.go, JobRequest): the server weighs
# the available workers of the name by 1 - load, and when that sums to 0 (each full, or at
# load 1.0) it drops the job at once, with no retry and no webhook (agent/load.py).
NO_WORKER = "no worker available to handle job"
NO_CAPACITY = "no workers with sufficient capacity"
# That comes after the job request's 200 ms affinity window; the slack allows for a
# dispatch age rounded to 0.1 s.
NO_CAPACITY_AFTER_SECONDS = 0.1
# With Redis (several nodes), the node that allocates a room names the node it runs on.
ROOM_NODE = "selected node for room"
FOLLOW_INTERVAL = 0.1
ROOMS_REMEMBERED = 1000
JOBS_REMEMBERED = 20  # per room
ROOMS_PER_WORKER = 200  # the rooms of a worker's newest jobs
JOBS_DECLINED_REMEMBERED = 1000
JOBS_ASSIGNED_REMEMBERED = 5000
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
    node: str = ""  # the node's name in LIVEKIT_NODES ("" on a single node)
    # (room, when assigned) of its newest jobs (ROOMS_PER_WORKER): where its agents are,
    # should it die.
    rooms: list[tuple[str, float]] = field(default_factory=list)
    closed_at: float | None = None  # when the server closed it (its clock, seconds)

    def to_dict(self) -> dict[str, Any]:
        shown = {k: v for k, v in asdict(self).items() if k not in ("rooms", "closed_at")}
        return {**shown, "jobs_assigned": len(self.jobs)}


@dataclass
class WorkerRegistry:
    """The workers registered with the server now, rebuilt from its log lines; with several
    nodes, from every node's log, each worker with the node it registered on."""

    workers: dict[str, RegisteredWorker] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)  # node name -> when it started
    node_ids: dict[str, str] = field(default_factory=dict)  # node id (ND_...) -> node name
    room_nodes: dict[str, str] = field(default_factory=dict)  # room -> node id
    # room -> the node id it ran on before a node re-created it (its node had died and
    # someone joined it again, through another node)
    room_earlier_nodes: dict[str, str] = field(default_factory=dict)
    on_registered: list[Callable[[RegisteredWorker], None]] = field(default_factory=list)
    on_never_connected: list[Callable[[str, str], None]] = field(default_factory=list)
    # (room, agent name) of a job the server gave up, once it is in `gave_up`
    on_not_assigned: list[Callable[[str, str], None]] = field(default_factory=list)
    on_started: list[Callable[[str], None]] = field(default_factory=list)
    # A worker the server closed (its connection ended: stopped, killed or crashed)
    on_closed: list[Callable[[RegisteredWorker], None]] = field(default_factory=list)
    # room -> the jobs the server gave up in it: {agent_name, job_id, error, at}
    gave_up: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # The job IDs a worker declined, oldest first (a dict keeps the order)
    declined: dict[str, None] = field(default_factory=dict)
    # job id -> {room, agent_name, worker_id, node, at}: where each job went, oldest first
    assigned: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def server_started_at(self) -> float | None:
        """When a server was last seen starting; None when no log says anything yet."""
        return max(self.started.values()) if self.started else None

    def forget_node(self, node: str) -> None:
        """A (re)started node has no workers until they register again."""
        for key in [k for k, w in self.workers.items() if w.node == node]:
            self.workers.pop(key)

    def feed(self, line: str, node: str = "") -> None:
        parsed = parse_line(line)
        if parsed is None:
            return
        f = parsed.fields
        if parsed.message == STARTED:
            self.forget_node(node)
            self.started[node] = parsed.at
            if "nodeID" in f:
                self.node_ids[f["nodeID"]] = node
            for started in self.on_started:
                started(node)
        elif parsed.message == REGISTERED and "workerID" in f:
            worker = RegisteredWorker(f["workerID"], f.get("agentName", ""), parsed.at, node=node)
            self.workers[worker.worker_id] = worker
            for callback in self.on_registered:
                callback(worker)
        elif parsed.message == CLOSED:
            closed = self.workers.pop(f.get("workerID", ""), None)
            if closed is not None:
                closed.closed_at = parsed.at
                for callback in self.on_closed:
                    callback(closed)
        elif parsed.message == ASSIGNED and (w := self.workers.get(f.get("workerID", ""))):
            self._assigned(f, w, parsed.at)
            w.jobs.append(f.get("jobID", ""))
            if room := f.get("room"):
                w.rooms = [*w.rooms[-(ROOMS_PER_WORKER - 1) :], (room, parsed.at)]
        elif parsed.message == NEVER_CONNECTED and "room" in f and "participant" in f:
            for callback in self.on_never_connected:
                callback(f["room"], f["participant"])
        elif parsed.message == NOT_ASSIGNED and f.get("retry") is True:
            # The worker declined (its request_fnc rejected, it is draining) or closed; the
            # server tries the next one and, with none left, logs "no workers with
            # sufficient capacity" for this job too: a choice, not a saturated machine.
            self.declined[f.get("jobID", "")] = None
            if len(self.declined) > JOBS_DECLINED_REMEMBERED:
                self.declined.pop(next(iter(self.declined)))
        elif (parsed.message == NOT_ASSIGNED and _gave_up_for_good(f)) or (
            parsed.message == NO_WORKER and self._no_room_for(f)
        ):
            self._gave_up(f, parsed.at)
            for callback in self.on_not_assigned:
                callback(f["room"], f.get("agentName", ""))
        elif parsed.message == ROOM_NODE and "room" in f and "selectedNodeID" in f:
            # A node picks another node for a room it already placed only when that node
            # stopped reporting (SelectRoomNode, pkg/service/roomallocator.go).
            before = self.room_nodes.get(f["room"])
            if before is not None and before != f["selectedNodeID"]:
                self.room_earlier_nodes[f["room"]] = before
            self.room_nodes[f["room"]] = f["selectedNodeID"]

    def _assigned(self, f: dict[str, Any], worker: RegisteredWorker, at: float) -> None:
        self.assigned[f.get("jobID", "")] = {
            "room": f.get("room", ""),
            "agent_name": f.get("agentName", ""),
            "worker_id": worker.worker_id,
            "node": worker.node,
            "at": at,
        }
        if len(self.assigned) > JOBS_ASSIGNED_REMEMBERED:
            self.assigned.pop(next(iter(self.assigned)))

    def _no_room_for(self, f: dict[str, Any]) -> bool:
        """A job dropped because no worker had room for it: not one a worker declined."""
        if "room" not in f or NO_CAPACITY not in str(f.get("error")):
            return False
        declined = f.get("jobID", "") in self.declined
        self.declined.pop(f.get("jobID", ""), None)
        return not declined

    def _gave_up(self, f: dict[str, Any], at: float) -> None:
        # A long-lived proxy: the room that failed longest ago goes first.
        jobs = self.gave_up.pop(f["room"], [])
        if len(self.gave_up) >= ROOMS_REMEMBERED:
            self.gave_up.pop(next(iter(self.gave_up)))
        jobs.append(
            {
                "agent_name": f.get("agentName", ""),
                "job_id": f.get("jobID", ""),
                "at": at,
                "error": str(f.get("error", "")),
            }
        )
        self.gave_up[f["room"]] = jobs[-JOBS_REMEMBERED:]

    def gave_up_since(self, room: str, agent_name: str, created_at: float) -> list[dict[str, Any]]:
        """The jobs of `agent_name` in `room` the server gave up that belong to a dispatch
        created at `created_at` (server time, seconds) or to a later one."""
        return [
            job
            for job in self.gave_up.get(room, [])
            if job["agent_name"] == agent_name and job["at"] >= created_at + _after(job)
        ]

    def node_of_room(self, room: str) -> str | None:
        """The name of the node a room runs on, when a log said so."""
        return self._name(self.room_nodes.get(room))

    def earlier_node_of_room(self, room: str) -> str | None:
        """The node a room ran on before another node re-created it, if that happened."""
        return self._name(self.room_earlier_nodes.get(room))

    def _name(self, node_id: str | None) -> str | None:
        return self.node_ids.get(node_id, node_id) if node_id else None

    def named(self, agent_name: str) -> list[RegisteredWorker]:
        return [w for w in self.workers.values() if w.agent_name == agent_name]

    def agent_names(self) -> list[str]:
        return sorted({w.agent_name for w in self.workers.values()})


def no_capacity(job: dict[str, Any]) -> bool:
    """A job given up because no worker had room, not because none answered in time."""
    return NO_CAPACITY in job["error"]


def _after(job: dict[str, Any]) -> float:
    return NO_CAPACITY_AFTER_SECONDS if no_capacity(job) else GAVE_UP_AFTER_SECONDS


def _gave_up_for_good(f: dict[str, Any]) -> bool:
    return f.get("retry") is False and "room" in f and "deadline" in str(f.get("error", ""))


def read_registry(paths: dict[str, Path]) -> WorkerRegistry | None:
    """The registry as of now from the log of each node (name -> path); None when there is
    no such file at all."""
    existing = {node: p for node, p in paths.items() if p.is_file()}
    if not existing:
        return None
    registry = WorkerRegistry()
    for node, path in existing.items():
        with path.open(errors="replace") as log:
            for line in log:
                registry.feed(line, node)
    return registry


async def follow(path: Path, registry: WorkerRegistry, node: str = "") -> None:
    """Feed `registry` every line written to `path`, for ever. A truncated or replaced file
    (the server restarted) is read again from its start."""
    log: BinaryIO | None = None
    whole = WholeLines()
    try:
        while True:
            try:
                on_disk = path.stat().st_ino
            except FileNotFoundError:
                on_disk = None
            if log is not None and (on_disk != os.fstat(log.fileno()).st_ino or _shrunk(log)):
                log.close()  # replaced or truncated: a new server, a new log
                log, whole = None, WholeLines()
            if log is None and on_disk is not None:
                try:
                    log = path.open("rb")
                except OSError:  # removed between the stat and the open: next round
                    await asyncio.sleep(FOLLOW_INTERVAL)
                    continue
                registry.forget_node(node)
            chunk = log.read() if log is not None else b""
            for line in whole(chunk):
                _feed(registry, line, node)
            await asyncio.sleep(FOLLOW_INTERVAL)
    finally:
        if log is not None:
            log.close()


def _shrunk(log: BinaryIO) -> bool:
    return os.fstat(log.fileno()).st_size < log.tell()


def _feed(registry: WorkerRegistry, line: str, node: str) -> None:
    """One line; a failing callback is logged, and following goes on."""
    try:
        registry.feed(line, node)
    except Exception:
        logger.exception("while reading a livekit-server log line: %s", line[:200])
