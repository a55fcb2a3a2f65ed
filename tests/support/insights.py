"""A real agent session recorded end to end: the fixture agent (tests/agent/fixtures/
insights_agent.py, an AgentSession with a test LLM and espeak-ng) uploads it to a real
proxy through livekit-agents' own upload path, as `make dev`'s workers do."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from livekit import api

from devstack.local_server import LiveKitServer
from devstack.processes import ROOT, AgentWorker, Proxy, insights_env
from devstack.waiting import wait_until
from tests.support.clients import connected, plain_token

FIXTURE = Path(__file__).resolve().parents[1] / "agent" / "fixtures" / "insights_agent.py"
AGENT_NAME = "insights-agent"
FAILURE = "the echo model refused this turn"  # what the fixture's LLM raises on "/fail"


@dataclass
class RecordedSession:
    job_id: str
    room: str
    dispatch_id: str
    ended_at: float  # wall clock: when the room was deleted, which ends the session
    listed_after_s: float  # from then until GET /api/sessions had its report
    complete_after_s: float  # until its last spans were in too (they come after the report)


def start_insights_worker(server: LiveKitServer, proxy: Proxy) -> AgentWorker:
    worker = AgentWorker(
        server,
        AGENT_NAME,
        AGENT_FILE=str(FIXTURE.relative_to(ROOT)),
        **insights_env(proxy.url),
    )
    worker.wait_for_line("registered worker", timeout=90)
    return worker


async def hold_conversation(
    server: LiveKitServer, proxy: Proxy, worker: AgentWorker, room: str
) -> RecordedSession:
    """A person joins, dispatches the agent through the proxy, types one message, then one
    that makes the model fail; deleting the room ends the session."""
    async with connected(server, plain_token(server, room, "person")) as client:
        made = httpx.post(
            f"{proxy.url}/api/dispatch-agent",
            json={"room": room, "agent_name": AGENT_NAME},
            timeout=15,
        )
        assert made.status_code == 200, made.text
        (agent,) = await client.wait_for_agents(1, timeout=30)
        identity = agent.identity
        job_id = identity.removeprefix("agent-")
        await client.wait_for_text("I am the insights agent", timeout=30)
        await client.wait_for_agent_state(identity, "listening")
        await client.room.local_participant.send_text("hello there", topic="lk.chat")
        await client.wait_for_text("You said: hello there.", timeout=30)
        await client.wait_for_agent_state(identity, "listening")
        await client.room.local_participant.send_text("/fail", topic="lk.chat")
        await asyncio.to_thread(worker.wait_for_line, FAILURE, 30)
    async with server.client() as lk:
        await lk.room.delete_room(api.DeleteRoomRequest(room=room))
    ended = time.time()

    def reported() -> bool:
        worker.check_running()
        sessions = httpx.get(f"{proxy.url}/api/sessions", timeout=10).json()["sessions"]
        return any(s["job_id"] == job_id and s["reported"] for s in sessions)

    def flushed() -> bool:
        """The job's root span is in: livekit-agents ends it last and sends the job's last
        spans and logs when the job ends, after the report (telemetry/traces.py)."""
        worker.check_running()
        spans = session_detail(proxy.url, job_id)["spans"]
        return any(s["name"] == "job_entrypoint" for s in spans)

    await asyncio.to_thread(
        lambda: wait_until(
            reported, timeout=60, interval=0.05, what="the session report to be listed"
        )
    )
    listed = time.time() - ended
    await asyncio.to_thread(
        lambda: wait_until(flushed, timeout=60, interval=0.05, what="the job's last spans")
    )
    return RecordedSession(
        job_id, room, made.json()["dispatch_id"], ended, listed, time.time() - ended
    )


def session_detail(proxy_url: str, job_id: str) -> dict[str, Any]:
    resp = httpx.get(f"{proxy_url}/api/sessions/{job_id}", timeout=10)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def session_in_room(proxy_url: str, room: str) -> dict[str, Any] | None:
    """The newest session of `room`, once the proxy lists one."""
    listed = httpx.get(f"{proxy_url}/api/sessions", timeout=10).json()["sessions"]
    job_id = next((s["job_id"] for s in listed if s["room"] == room), None)
    return session_detail(proxy_url, job_id) if job_id else None
