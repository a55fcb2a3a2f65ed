"""Gather the facts a diagnosis rests on, from a live deployment: the server and its view
of our keys, the worker's own health server, the token, the room, the server's and the
worker's logs, the nodes, the pool, and (on request) a live probe. Each part degrades to
'unknown' instead of failing; the records themselves are evidence.py's."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from livekit import api

from devstack.cluster import node_answers, redis_answers
from devstack.inference_status import inference_status
from devstack.livekit import SERVER_ERRORS, api_client
from devstack.rooms import STATE_ATTRIBUTE, agent_name_of, dispatch_age, find_room, room_state
from devstack.server_log import WorkerRegistry, read_registry
from devstack.settings import Settings, http_url
from devstack.tokens import admin_token
from devstack.worker_health import fetch_worker_status, pool_statuses
from doctor.agent_facts import agent_crash_facts, job_log, project_facts
from doctor.evidence import DispatchFacts, Evidence, RoomFacts, ServerFacts
from doctor.probe import run_probe
from doctor.token_report import analyze_token


@dataclass
class Target:
    """What to diagnose, and with which credentials."""

    url: str
    api_key: str
    api_secret: str = field(repr=False)
    worker_url: str
    agent_name: str | None = None
    room: str | None = None
    token: str | None = None
    probe: bool = False
    probe_timeout: float = 10.0
    # The server's log per node (the stack's own servers): which workers are registered.
    server_logs: dict[str, Path] | None = None
    # The stack's state directory: the workers of its pool, by their health servers.
    state_dir: Path | None = None
    # Several nodes: (name, URL) of each, and the Redis they share.
    nodes: list[tuple[str, str]] = field(default_factory=list)
    redis: str = ""
    # The stack's settings, when it is the stack's own deployment: where Inference goes.
    stack: Settings | None = field(default=None, repr=False)

    @classmethod
    def of_stack(cls, settings: Settings, **asked: Any) -> Target:
        """The stack's own deployment, with its state: the server logs, the pool, the
        nodes and their Redis. `asked` overrides what the user named (room, token, ...)."""
        return cls(
            **{
                "url": settings.livekit_url,
                "api_key": settings.livekit_api_key,
                "api_secret": settings.livekit_api_secret,
                "worker_url": settings.worker_health_url,
                "server_logs": settings.server_logs,
                "state_dir": settings.state_dir,
                "nodes": settings.nodes,
                "redis": settings.livekit_redis,
                "stack": settings,
                **asked,
            }
        )


async def server_facts(target: Target) -> ServerFacts:
    """Reachability, then one authenticated call. The raw HTTP answer (not the SDK's)
    keeps the server's own words, which tell a wrong key from a wrong secret."""
    facts = ServerFacts(url=target.url)
    token = admin_token(target.api_key, target.api_secret)
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            resp = await http.post(
                f"{http_url(target.url)}/twirp/livekit.RoomService/ListRooms",
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


async def room_facts(lk: api.LiveKitAPI, room: str) -> RoomFacts:
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
                "tracks": len(p.tracks),
                "state": p.attributes.get(STATE_ATTRIBUTE, ""),
            }
            for p in participants
        ],
        dispatches=[
            DispatchFacts(
                dispatch_id=d.id,
                agent_name=d.agent_name,
                jobs=len(d.state.jobs),
                age_seconds=round(dispatch_age(d, now_ns), 1),
            )
            for d in dispatches
        ],
    )


def gave_up(registry: WorkerRegistry, room: RoomFacts, agent_name: str) -> list[dict[str, Any]]:
    """The jobs the server gave up for the newest dispatch of `agent_name` in `room` (one
    given up for an older dispatch, or an earlier room of that name, is not its cause)."""
    mine = [d for d in room.dispatches if d.agent_name == agent_name]
    if not mine:
        return []
    newest = time.time() - min(d.age_seconds for d in mine)
    return registry.gave_up_since(room.name, agent_name, newest)


def since_dispatch(
    state_dir: Path, room: RoomFacts, agent_name: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The worker log's failures and warnings of `agent_name`'s jobs in `room` since its
    newest dispatch (or since the room was created): an older room of that name is not
    this one."""
    if not room.exists:
        return [], []
    mine = [d.age_seconds for d in room.dispatches if d.agent_name == agent_name]
    age = min(mine) if mine else room.age_seconds
    since = time.time() - age if age is not None else 0.0  # a fresh dispatch's age is 0.0
    return job_log(state_dir, room.name, agent_name, since)


async def gather(target: Target) -> Evidence:
    """Everything the rules need; each part degrades to 'unknown' instead of failing."""
    server, worker = await asyncio.gather(
        server_facts(target), fetch_worker_status(target.worker_url)
    )
    token = analyze_token(target.token, target.api_secret) if target.token else None
    agent_name = target.agent_name
    if agent_name is None and token and token.agent_names:
        agent_name = token.agent_names[0]
    room_name = target.room or (token.room if token else None) or None
    evidence = Evidence(target.url, agent_name, server, worker, token)
    evidence.room_name = room_name
    registry = read_registry(target.server_logs) if target.server_logs else None
    if registry is not None and registry.server_started_at is not None:
        evidence.registered = {
            name: [w.worker_id for w in registry.named(name)] for name in registry.agent_names()
        }
    if len(target.nodes) > 1:
        up = await asyncio.gather(*(asyncio.to_thread(node_answers, u) for _, u in target.nodes))
        evidence.nodes = [
            {
                "name": n,
                "url": u,
                "reachable": r,
                # The agent names registered on this node, from its log.
                "agents": sorted({w.agent_name for w in registry.workers.values() if w.node == n})
                if registry
                else [],
            }
            for (n, u), r in zip(target.nodes, up, strict=True)
        ]
        if registry is not None and room_name:
            evidence.room_node = registry.node_of_room(room_name)
            evidence.room_earlier_node = registry.earlier_node_of_room(room_name)
    if target.redis:
        evidence.redis = {"address": target.redis, "reachable": await redis_answers(target.redis)}
    if target.state_dir is not None:
        evidence.pool = [
            {"name": w["name"], **status.to_dict()}
            for w, status in await pool_statuses(target.state_dir)
        ]
        evidence.agent_crash = agent_crash_facts(target.state_dir)
        evidence.project = project_facts(target.state_dir)
    if target.stack is not None:
        evidence.inference = await inference_status(target.stack)
    if server.auth != "ok":
        return evidence
    async with api_client(target.url, target.api_key, target.api_secret) as lk:
        dead = {n["name"] for n in evidence.nodes if not n["reachable"]}
        if room_name and evidence.room_node not in dead:
            # If the node that holds it does not answer, the nodes rule says so.
            with contextlib.suppress(*SERVER_ERRORS):
                evidence.room = await room_facts(lk, room_name)
            if registry is not None and evidence.room is not None:
                evidence.gave_up = gave_up(registry, evidence.room, agent_name or "")
            if target.state_dir is not None and evidence.room is not None:
                evidence.job_failures, evidence.notes = since_dispatch(
                    target.state_dir, evidence.room, agent_name or ""
                )
        if target.probe and agent_name:
            evidence.probe = await run_probe(lk, agent_name, target.probe_timeout)
    return evidence
