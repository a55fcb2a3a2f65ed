"""Collect the facts a diagnosis rests on: the server and its view of our keys, the
worker's own health server, the room, and (on request) a live probe dispatch."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp
import httpx
from livekit import api

from agent.wait import http_url
from proxy.rooms import agent_name_of, find_room, room_state
from proxy.token_analysis import TokenReport, analyze_token
from proxy.worker_status import WorkerStatus, fetch_worker_status


@dataclass
class Target:
    """What to diagnose, and with which credentials."""

    url: str
    api_key: str
    api_secret: str
    worker_url: str
    agent_name: str | None = None
    room: str | None = None
    token: str | None = None
    probe: bool = False
    probe_timeout: float = 10.0


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
    participants: list[dict[str, Any]] = field(default_factory=list)  # identity, kind, agent_name
    dispatches: list[DispatchFacts] = field(default_factory=list)


@dataclass
class ProbeFacts:
    room: str
    joined: bool
    latency_ms: float | None = None
    detail: str = ""


@dataclass
class Evidence:
    target_url: str
    agent_name: str | None
    server: ServerFacts
    worker: WorkerStatus
    token: TokenReport | None = None
    room: RoomFacts | None = None
    probe: ProbeFacts | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.target_url,
            "agent_name": self.agent_name,
            "server": asdict(self.server),
            "worker": self.worker.to_dict(),
            "token": self.token.to_dict() if self.token else None,
            "room": asdict(self.room) if self.room else None,
            "probe": asdict(self.probe) if self.probe else None,
        }


async def check_server(target: Target) -> ServerFacts:
    """Reachability, then one authenticated call. The raw HTTP answer (not the SDK's)
    keeps the server's own words, which tell a wrong key from a wrong secret."""
    facts = ServerFacts(url=target.url)
    base = http_url(target.url)
    token = (
        api.AccessToken(target.api_key, target.api_secret)
        .with_grants(api.VideoGrants(room_list=True, room_admin=True))
        .to_jwt()
    )
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            resp = await http.post(
                f"{base}/twirp/livekit.RoomService/ListRooms",
                json={},
                headers={"Authorization": f"Bearer {token}"},
            )
    except httpx.HTTPError as exc:
        facts.detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return facts
    facts.reachable = True
    text = resp.text.replace(token, "<token>")[:300]
    if resp.status_code == 200:
        facts.auth = "ok"
        facts.num_rooms = len(resp.json().get("rooms", []))
    elif resp.status_code == 401 and "invalid API key" in text:
        facts.auth, facts.detail = "bad_key", f"the server does not know API key {target.api_key!r}"
    elif resp.status_code == 401 and "invalid token" in text:
        facts.auth, facts.detail = (
            "bad_secret",
            f"API key {target.api_key!r} is known, but the secret does not match it",
        )
    else:
        facts.auth, facts.detail = "refused", f"HTTP {resp.status_code}: {text.strip()}"
    return facts


async def check_room(lk: api.LiveKitAPI, room: str) -> RoomFacts:
    info = await find_room(lk, room)
    if info is None:
        return RoomFacts(name=room, exists=False)
    participants, dispatches = await room_state(lk, room)
    now_ns = time.time_ns()
    return RoomFacts(
        name=room,
        exists=True,
        age_seconds=round(time.time() - info.creation_time, 1) if info.creation_time else None,
        empty_timeout=info.empty_timeout,
        departure_timeout=info.departure_timeout,
        participants=[
            {
                "identity": p.identity,
                "kind": api.ParticipantInfo.Kind.Name(p.kind),
                "agent_name": agent_name_of(p),
            }
            for p in participants
        ],
        dispatches=[
            DispatchFacts(
                dispatch_id=d.id,
                agent_name=d.agent_name,
                jobs=len(d.state.jobs),
                age_seconds=round((now_ns - d.state.created_at) / 1e9, 1),
            )
            for d in dispatches
        ],
    )


async def run_probe(lk: api.LiveKitAPI, agent_name: str, timeout: float) -> ProbeFacts:
    """Dispatch `agent_name` into a throw-away room and time its arrival; always cleans up."""
    room = f"devstack-probe-{uuid.uuid4().hex[:8]}"
    await lk.room.create_room(api.CreateRoomRequest(name=room, empty_timeout=30))
    try:
        started = time.monotonic()
        await lk.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name=agent_name, room=room)
        )
        while time.monotonic() - started < timeout:
            listing = await lk.room.list_participants(api.ListParticipantsRequest(room=room))
            if any(agent_name_of(p) == agent_name for p in listing.participants):
                latency = (time.monotonic() - started) * 1000
                return ProbeFacts(room=room, joined=True, latency_ms=round(latency))
            await asyncio.sleep(0.1)
        return ProbeFacts(
            room=room, joined=False, detail=f"no agent {agent_name!r} within {timeout:.0f} s"
        )
    finally:
        await lk.room.delete_room(api.DeleteRoomRequest(room=room))


async def gather(target: Target) -> Evidence:
    """Everything the checks need; each part degrades to 'unknown' instead of failing."""
    server, worker = await asyncio.gather(
        check_server(target), fetch_worker_status(target.worker_url)
    )
    token = analyze_token(target.token, target.api_secret) if target.token else None
    agent_name = target.agent_name
    if agent_name is None and token and token.agent_names:
        agent_name = token.agent_names[0]
    room_name = target.room or (token.room if token else None) or None
    evidence = Evidence(target.url, agent_name, server, worker, token)
    if server.auth != "ok":
        return evidence
    async with api.LiveKitAPI(
        http_url(target.url),
        target.api_key,
        target.api_secret,
        timeout=aiohttp.ClientTimeout(total=5),
        failover=False,
    ) as lk:
        if room_name:
            evidence.room = await check_room(lk, room_name)
        if target.probe and agent_name:
            evidence.probe = await run_probe(lk, agent_name, target.probe_timeout)
    return evidence
