"""Sessions of jobs that overlap in one worker process: each is its own job's.

livekit-agents keeps its recording pipeline per process (telemetry/traces.py, _CloudTelemetry):
with jobs in threads of one process, a record made outside any job's context is stamped with
the job that configured recording last, and the records a job buffers before it records are
everyone's. The stack stamps each log record and span with the job that made it, when it is
made (agent/job_records.py), and the proxy keeps a record only in that job's session."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from livekit import api

from devstack.local_server import LiveKitServer
from devstack.processes import ROOT, AgentWorker, Proxy, insights_env
from devstack.waiting import wait_until
from tests.support.clients import connected, plain_token
from tests.support.insights import session_detail

pytestmark = pytest.mark.integration

THREAD_AGENT = Path(__file__).resolve().parent / "fixtures" / "thread_agent.py"
# (how long each person stays, in seconds): joined at once, leaving at different times.
STAYS = (2.0, 4.0, 6.0)
BURST = 10


@pytest.fixture(
    scope="module",
    params=["built-in", "thread-executor-file"],
)
def recording_worker(
    request: pytest.FixtureRequest, livekit_server: LiveKitServer, proxy: Proxy
) -> Iterator[AgentWorker]:
    """The stack's own worker (jobs on one shared loop), or a user's agent file that picks
    livekit-agents' thread executor; either uploads its sessions to the proxy."""
    name = f"overlap-{request.param}-{uuid.uuid4().hex[:4]}"
    extra = {"AGENT_FILE": str(THREAD_AGENT.relative_to(ROOT))} if "file" in request.param else {}
    worker = AgentWorker(livekit_server, name, **insights_env(proxy.url), **extra)
    try:
        worker.wait_for_line("registered worker", timeout=90)
        yield worker
    finally:
        worker.stop()


async def visit(
    server: LiveKitServer, proxy: Proxy, worker: AgentWorker, room: str, stay: float
) -> tuple[str, float]:
    """A person joins `room`, dispatches the agent, stays `stay` seconds with it, then the
    room is deleted (which ends the job). Returns the agent's identity and the stay."""
    async with connected(server, plain_token(server, room, "person")) as client:
        made = await asyncio.to_thread(
            httpx.post,
            f"{proxy.url}/api/dispatch-agent",
            json={"room": room, "agent_name": worker.agent_name},
            timeout=15,
        )
        assert made.status_code == 200, made.text
        (agent,) = await client.wait_for_agents(1, timeout=30)
        joined = time.monotonic()
        await asyncio.sleep(stay)  # the person's stay is what is measured, not a readiness wait
        stayed = time.monotonic() - joined
    async with server.client() as lk:
        await lk.room.delete_room(api.DeleteRoomRequest(room=room))
    return agent.identity, stayed


def sessions_of(proxy: Proxy, rooms: list[str], worker: AgentWorker) -> dict[str, list[dict]]:
    """Every listed session by its label, once each room's job has sent its root span."""
    listed: dict[str, list[dict[str, Any]]] = {}

    def complete() -> bool:
        worker.check_running()
        rows = httpx.get(f"{proxy.url}/api/sessions", timeout=10).json()["sessions"]
        listed.clear()
        for row in rows:
            listed.setdefault(row["room"], []).append(row)
        for room in rooms:
            for row in listed.get(room, []):
                spans = session_detail(proxy.url, row["job_id"])["spans"]
                if any(s["name"] == "job_entrypoint" for s in spans):
                    break
            else:
                return False
        return True

    try:
        wait_until(complete, timeout=90, interval=0.5, what="every room's session to be complete")
    except TimeoutError as exc:
        seen = {
            room: [(r["job_id"], r["duration_s"]) for r in rows] for room, rows in listed.items()
        }
        raise AssertionError(f"{exc}; sessions by label: {seen}") from None
    return listed


def mentions(session: dict[str, Any], rooms: list[str]) -> set[str]:
    """The rooms named anywhere in the session's log lines (bodies and attributes)."""
    text = " ".join(f"{line['message']} {line['attributes']}" for line in session["logs"])
    return {room for room in rooms if re.search(rf"\b{re.escape(room)}\b", text)}


def check_own(proxy: Proxy, worker: AgentWorker, visits: dict[str, tuple[str, float]]) -> None:
    rooms = list(visits)
    listed = sessions_of(proxy, rooms, worker)
    for room, (identity, stayed) in visits.items():
        own = listed.get(room, [])
        assert len(own) == 1, f"{room}: {len(own)} sessions labelled with it: {own}"
        session = session_detail(proxy.url, own[0]["job_id"])
        assert session["job_id"].endswith(identity[-6:]), (identity, session["job_id"])
        others = mentions(session, rooms) - {room}
        assert not others, f"{room}'s session has log lines of {sorted(others)}"
        assert session["duration_s"] >= stayed, (room, session["duration_s"], stayed)


async def test_overlapping_jobs_each_have_their_own_session(
    livekit_server: LiveKitServer, proxy: Proxy, recording_worker: AgentWorker
) -> None:
    """People in three rooms at once, staying different times: three sessions, each with its
    own room, its own log lines only, and at least its person's stay."""
    tag = uuid.uuid4().hex[:4]
    rooms = [f"mix-{tag}-{i}" for i in range(len(STAYS))]
    results = await asyncio.gather(
        *(
            visit(livekit_server, proxy, recording_worker, room, stay)
            for room, stay in zip(rooms, STAYS, strict=True)
        )
    )
    await asyncio.to_thread(
        check_own, proxy, recording_worker, dict(zip(rooms, results, strict=True))
    )


async def test_a_burst_of_rooms_each_has_its_own_session(
    livekit_server: LiveKitServer, proxy: Proxy, recording_worker: AgentWorker
) -> None:
    """Ten rooms dispatched at once: ten sessions, one per room, none holding another's lines."""
    tag = uuid.uuid4().hex[:4]
    rooms = [f"burst-{tag}-{i}" for i in range(BURST)]
    results = await asyncio.gather(
        *(visit(livekit_server, proxy, recording_worker, room, 1.0) for room in rooms)
    )
    await asyncio.to_thread(
        check_own, proxy, recording_worker, dict(zip(rooms, results, strict=True))
    )
