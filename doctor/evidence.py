"""The facts a diagnosis rests on, as records: the server and its view of our keys, the
worker's own health, the token, the room, the nodes, the pool and the logs' findings.
They serialize to JSON and back, so the rule table is tested over recorded facts
(gather.py collects them from a live deployment)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from devstack.worker_health import WorkerStatus
from doctor.probe import ProbeFacts
from doctor.token_report import TokenReport


@dataclass
class ServerFacts:
    url: str
    reachable: bool = False
    auth: str = "unknown"  # "ok" | "bad_key" | "bad_secret" | "refused" | "unknown"
    detail: str = ""
    num_rooms: int | None = None


@dataclass
class DispatchFacts:
    dispatch_id: str
    agent_name: str
    jobs: int
    age_seconds: float


@dataclass
class RoomFacts:
    name: str
    exists: bool
    age_seconds: float | None = None
    empty_timeout: int = 0
    departure_timeout: int = 0
    # identity, kind, agent_name, tracks (published), state (lk.agent.state)
    participants: list[dict[str, Any]] = field(default_factory=list)
    dispatches: list[DispatchFacts] = field(default_factory=list)


@dataclass
class Evidence:
    target_url: str
    agent_name: str | None
    server: ServerFacts
    worker: WorkerStatus
    token: TokenReport | None = None
    room: RoomFacts | None = None
    probe: ProbeFacts | None = None
    # agent name -> ids of the workers registered under it, from the server's log; None
    # when the log is not at hand (a remote deployment).
    registered: dict[str, list[str]] | None = None
    # The jobs of the newest dispatch of this agent name in the room that the server gave
    # up (no worker answered in time), from its log: {agent_name, job_id, error, at}.
    gave_up: list[dict[str, Any]] = field(default_factory=list)
    # Several nodes: each node's name, URL and whether it answers, the node of the room,
    # and the shared Redis ({address, reachable}); empty on a single node.
    nodes: list[dict[str, Any]] = field(default_factory=list)
    room_node: str | None = None
    room_name: str | None = None  # the room asked about, when one was
    # The node the room ran on before it was re-created on room_node, if it was.
    room_earlier_node: str | None = None
    redis: dict[str, Any] | None = None
    # Every worker of the stack's pool: name, health URL, agent name, load, jobs.
    pool: list[dict[str, Any]] = field(default_factory=list)
    # The agent process the supervisor cannot keep up: {name, state, error, fix, restarts,
    # watching} (devstack/crash.py), None when every agent process runs.
    agent_crash: dict[str, Any] | None = None
    # Your own agent project (AGENT_DIR): {root, kind, livekit_agents, download_files_ok,
    # download_failures}.
    project: dict[str, Any] | None = None
    # What the worker's own log says about the room's jobs since its newest dispatch: each
    # job that crashed, lacked its model files or whose session failed (worker_log.py).
    job_failures: list[dict[str, Any]] = field(default_factory=list)
    # The stack's LiveKit Inference: {mode, url, up, ...} (devstack/inference_status.py).
    inference: dict[str, Any] | None = None
    # What the worker's log warns of the room's jobs since its newest dispatch: a plugin
    # that needs LiveKit Cloud and runs without it (devstack/cloud_only.py). Blocks nothing.
    notes: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.target_url,
            "agent_name": self.agent_name,
            "server": asdict(self.server),
            "worker": self.worker.to_dict(),
            "token": self.token.to_dict() if self.token else None,
            "room": asdict(self.room) if self.room else None,
            "probe": asdict(self.probe) if self.probe else None,
            "registered": self.registered,
            "gave_up": self.gave_up,
            "pool": self.pool,
            "nodes": self.nodes,
            "room_node": self.room_node,
            "room_name": self.room_name,
            "room_earlier_node": self.room_earlier_node,
            "redis": self.redis,
            "agent_crash": self.agent_crash,
            "project": self.project,
            "job_failures": self.job_failures,
            # Only when known (the stack's own deployment): recorded facts stay as they were.
            **({"inference": self.inference} if self.inference is not None else {}),
            **({"notes": self.notes} if self.notes else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Evidence:
        """The inverse of to_dict: a recorded diagnosis's evidence, to judge it again."""
        token = d.get("token")
        room = d.get("room")
        return cls(
            target_url=d["url"],
            agent_name=d.get("agent_name"),
            server=ServerFacts(**d["server"]),
            worker=WorkerStatus(**d["worker"]),
            token=TokenReport(**{k: v for k, v in token.items() if k != "expired"})
            if token
            else None,
            room=RoomFacts(
                **{**room, "dispatches": [DispatchFacts(**x) for x in room["dispatches"]]}
            )
            if room
            else None,
            probe=ProbeFacts(**d["probe"]) if d.get("probe") else None,
            registered=d.get("registered"),
            gave_up=d.get("gave_up", []),
            pool=d.get("pool", []),
            nodes=d.get("nodes", []),
            room_node=d.get("room_node"),
            room_name=d.get("room_name"),
            room_earlier_node=d.get("room_earlier_node"),
            redis=d.get("redis"),
            agent_crash=d.get("agent_crash"),
            project=d.get("project"),
            job_failures=d.get("job_failures", []),
            inference=d.get("inference"),
            notes=d.get("notes", []),
        )
