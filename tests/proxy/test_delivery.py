"""The delivery watcher keeps agents joined where LiveKit Cloud does: a dispatch made
before its worker registered is delivered once it does, an agent killed with a person in
the room is replaced, and one that leaves on purpose is not. Real server, real supervised
workers, real clients; the server's webhooks and log are the only sources of truth."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
import uuid

import httpx
import pytest
from livekit import api

from devstack.local_server import LiveKitServer
from devstack.processes import AgentWorker, Proxy
from tests.support.clients import connected, plain_token
from tests.support.server_log import wait_for_job_given_up

pytestmark = pytest.mark.integration

NO_AGENT_WINDOW = 6.0


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


async def dispatch(proxy: Proxy, room: str, agent_name: str) -> dict[str, object]:
    # Generous: a burst of 50 shares two cores with 50 starting agents.
    async with httpx.AsyncClient(base_url=proxy.url, timeout=60) as http:
        resp = await http.post("/api/dispatch-agent", json={"room": room, "agent_name": agent_name})
    assert resp.status_code == 200, resp.text
    return resp.json()


def delivery(proxy: Proxy, room: str) -> dict[str, object]:
    return httpx.get(f"{proxy.url}/api/delivery", params={"room": room}, timeout=10).json()


def kinds(proxy: Proxy, room: str) -> list[str]:
    return [e["kind"] for e in delivery(proxy, room)["events"]]  # type: ignore[index]


async def test_dispatch_before_the_worker_starts_is_delivered_when_it_registers(
    livekit_server: LiveKitServer, proxy: Proxy, room_name: str
) -> None:
    """The `make dev` race: Connect before the worker registered still brings the agent."""
    name = unique("late-worker")
    async with connected(livekit_server, plain_token(livekit_server, room_name, "user")) as client:
        body = await dispatch(proxy, room_name, name)
        assert "re-issues it as soon as one registers" in str(body["warning"])
        worker = AgentWorker(livekit_server, name)
        try:
            worker.wait_registered()
            registered = time.monotonic()
            (agent,) = await client.wait_for_agents(1, timeout=10)
            after = client.agent_joined_at[agent.identity] - registered
        finally:
            worker.stop()
    print(f"\nagent in the room {after * 1000:.0f} ms after the worker registered")
    # (The agent left afterwards, when the test stopped its worker.)
    assert kinds(proxy, room_name)[:3] == ["no worker", "re-dispatched", "agent joined"]
    metrics = httpx.get(f"{proxy.url}/metrics", timeout=10).text
    assert 'devstack_redispatches_total{reason="worker_registered"}' in metrics
    assert "devstack_dispatch_to_agent_seconds_bucket" in metrics
    assert agent.attributes["devstack.dispatch_id"] != body["dispatch_id"]  # the re-issued one


async def test_agent_killed_with_a_person_in_the_room_is_replaced(
    livekit_server: LiveKitServer, proxy: Proxy, room_name: str
) -> None:
    """kill -9 of the worker and its job processes: the server logs the worker closed, the
    watcher removes the dead agent at once instead of waiting for the server's 20 s
    CONNECTION_TIMEOUT, the supervisor restarts the worker, and a new agent joins."""
    name = unique("crashing")
    worker = AgentWorker(livekit_server, name, supervised=True)
    try:
        worker.wait_registered()
        async with connected(
            livekit_server, plain_token(livekit_server, room_name, "user")
        ) as client:
            await dispatch(proxy, room_name, name)
            (first,) = await client.wait_for_agents(1)
            os.killpg(worker.supervised_pid(), signal.SIGKILL)
            killed = time.monotonic()
            await client.wait_for_agent_gone(first.identity, timeout=10)
            gone = time.monotonic() - killed
            await client.wait_for_new_agent(exclude={first.identity}, timeout=15)
            replaced = time.monotonic() - killed
            worker.wait_registered(times=2)  # the supervisor restarted it
            assert proxy.running()
    finally:
        worker.stop()
    print(
        f"\nkill -9: the dead agent left after {gone:.1f} s, a new one joined after {replaced:.1f} s"
    )
    events = kinds(proxy, room_name)
    lost = events.index("agent lost")  # then replaced; it left again when the test ended
    after = events[lost:]
    assert after.index("re-dispatched") < after.index("agent joined"), events
    said = json.dumps(delivery(proxy, room_name)["events"])
    assert "closed with it in the room" in said and "CONNECTION_TIMEOUT" not in said


async def test_agent_that_ends_its_job_is_not_replaced(
    livekit_server: LiveKitServer, named_worker: AgentWorker, proxy: Proxy, room_name: str
) -> None:
    """The agent leaves on purpose (its job ends: CLIENT_INITIATED): nobody replaces it."""
    async with connected(livekit_server, plain_token(livekit_server, room_name, "user")) as client:
        await dispatch(proxy, room_name, named_worker.agent_name)
        await client.wait_for_agents(1)
        await client.wait_for_text("loopback mode")
        await client.room.local_participant.send_text("/leave", topic="lk.chat")
        await client.wait_for_no_agents()
        assert await client.agents_seen_within(NO_AGENT_WINDOW) == 1
    (d,) = delivery(proxy, room_name)["deliveries"]  # type: ignore[misc]
    assert d["state"] == "ended" and d["redispatches"] == 0
    assert "CLIENT_INITIATED" in json.dumps(delivery(proxy, room_name)["events"])


async def test_forged_webhook_is_refused_and_changes_nothing(
    livekit_server: LiveKitServer, named_worker: AgentWorker, proxy: Proxy, room_name: str
) -> None:
    """A webhook claiming the agent crashed, unsigned or signed with another secret: 401,
    and no second agent is dispatched."""
    async with connected(livekit_server, plain_token(livekit_server, room_name, "user")) as client:
        await dispatch(proxy, room_name, named_worker.agent_name)
        (agent,) = await client.wait_for_agents(1)
        forged = api.WebhookEvent(
            event="participant_left",
            room=api.Room(name=room_name),
            participant=api.ParticipantInfo(
                identity=agent.identity,
                kind=api.ParticipantInfo.Kind.AGENT,
                attributes={"lk.agent.name": named_worker.agent_name},
                disconnect_reason=api.DisconnectReason.CONNECTION_TIMEOUT,
            ),
        )
        from google.protobuf.json_format import MessageToJson

        body = MessageToJson(forged)
        wrong = (
            api.AccessToken(livekit_server.api_key, "not-the-secret")
            .with_sha256(__import__("hashlib").sha256(body.encode()).digest().hex())
            .to_jwt()
        )
        async with httpx.AsyncClient(base_url=proxy.url, timeout=10) as http:
            answers = [
                await http.post(
                    "/api/webhooks/livekit",
                    content=body,
                    headers={"Content-Type": "application/webhook+json", **auth},
                )
                for auth in ({}, {"Authorization": wrong})
            ]
        assert [a.status_code for a in answers] == [401, 401]
        assert answers[0].json()["error"] == "webhook_unverified"
        assert await client.agents_seen_within(3.0) == 1
        async with livekit_server.client() as lk:
            dispatches = await lk.agent_dispatch.list_dispatch(room_name)
    assert len([d for d in dispatches if d.agent_name == named_worker.agent_name]) == 1


async def test_server_killed_and_started_again_the_worker_comes_back(
    room_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """kill -9 livekit-server, start it on the same ports: the worker re-registers by itself
    and the next dispatch brings an agent."""
    from devstack.local_server import start_livekit_server

    state = tmp_path_factory.mktemp("restart")
    server = start_livekit_server("binary", state_dir=state)
    worker = AgentWorker(server, "survivor")
    try:
        worker.wait_registered()
        ports = (server.port, server.tcp_port, server.udp_port)
        server.kill()
        started = time.monotonic()
        server = start_livekit_server("binary", state_dir=state, ports=ports)
        worker.wait_registered(times=2, timeout=30)
        back = time.monotonic() - started
        async with connected(server, plain_token(server, room_name, "user")) as client:
            async with server.client() as lk:
                await lk.agent_dispatch.create_dispatch(
                    api.CreateAgentDispatchRequest(agent_name="survivor", room=room_name)
                )
            await client.wait_for_agents(1)
    finally:
        worker.stop()
        server.stop()
    print(f"\nworker registered again {back:.1f} s after the server was started again")


async def test_fifty_rooms_at_once_with_two_workers_lose_nothing(
    livekit_server: LiveKitServer, proxy: Proxy
) -> None:
    """50 dispatches at once into 50 rooms, a pool of 2 workers: 50 agents, none lost."""
    name = unique("pool")
    pool = [AgentWorker(livekit_server, name) for _ in range(2)]
    rooms = [unique("burst") for _ in range(50)]
    try:
        for w in pool:
            w.wait_registered()
        health = httpx.get(f"{proxy.url}/api/health", timeout=10).json()
        listed = [w for w in health["pool"] if w["agent_name"] == name]
        assert sorted(w["url"] for w in listed) == sorted(w.health_url for w in pool)
        started = time.monotonic()
        await asyncio.gather(*(dispatch(proxy, r, name) for r in rooms))
        joined_at: dict[str, float] = {}
        async with livekit_server.client() as lk:
            deadline = started + 120
            while len(joined_at) < len(rooms) and time.monotonic() < deadline:
                for r in set(rooms) - set(joined_at):
                    listing = await lk.room.list_participants(api.ListParticipantsRequest(room=r))
                    if any(p.kind == api.ParticipantInfo.Kind.AGENT for p in listing.participants):
                        joined_at[r] = time.monotonic() - started
                await asyncio.sleep(0.2)
            every = httpx.get(f"{proxy.url}/api/delivery", timeout=10).json()["events"]
            events = [e for e in every if e["room"] in rooms]
            rescued = [e["message"] for e in events if e["kind"] == "re-dispatched"]
            for r in rooms:
                await lk.room.delete_room(api.DeleteRoomRequest(room=r))
        jobs = [len([x for x in w.lines if "job request: room=burst-" in x]) for w in pool]
        lost = sorted(set(rooms) - set(joined_at))
        # What the workers said of a lost room is the only way to tell where it stopped.
        logged = [f"worker {i}: {x}" for i, w in enumerate(pool) for x in w.lines]
        said = [x for x in logged if any(r in x for r in lost)]
        errors = [x for x in logged if "ERROR" in x or "Traceback" in x]
    finally:
        for w in pool:
            w.stop()
    times = sorted(joined_at.values())
    if times:
        print(
            f"\n{len(times)}/50 joined; p50 {times[len(times) // 2]:.1f} s, "
            f"p95 {times[int(len(times) * 0.95) - 1]:.1f} s, max {times[-1]:.1f} s; jobs per worker {jobs}; "
            f"re-dispatched {len(rescued)}: {rescued}"
        )
    assert not lost, f"lost: {lost}\n" + "\n".join(said + errors[-20:])
    assert all(j > 0 for j in jobs), f"jobs did not spread across the pool: {jobs}"


async def test_token_dispatch_before_the_worker_starts_is_delivered(
    livekit_server: LiveKitServer, proxy: Proxy, room_name: str
) -> None:
    """A token from /api/connection-details whose room_config names an agent not yet
    registered: the watcher follows the dispatch the server made and re-issues it."""
    name = unique("late-token")
    async with httpx.AsyncClient(base_url=proxy.url, timeout=15) as http:
        resp = await http.post(
            "/api/connection-details",
            json={"room_name": room_name, "room_config": {"agents": [{"agent_name": name}]}},
        )
    assert resp.status_code == 201, resp.text
    async with connected(livekit_server, resp.json()["participant_token"]) as client:
        worker = AgentWorker(livekit_server, name)
        try:
            worker.wait_registered()
            await client.wait_for_agents(1, timeout=10)
        finally:
            worker.stop()
    (d,) = delivery(proxy, room_name)["deliveries"]  # type: ignore[misc]
    assert d["source"] == "token" and d["redispatches"] == 1


async def dispatch_to_a_stopped_worker(
    server: LiveKitServer, proxy: Proxy, worker: AgentWorker, room: str
) -> dict[str, object]:
    """Dispatch while the worker is stopped, and let it go on once the server gave the job
    up: what a worker too busy to answer within the server's 3 s deadline meets."""
    with worker.paused():
        body = await dispatch(proxy, room, worker.agent_name)
        await wait_for_job_given_up(server, room)
    return body


async def test_worker_that_answers_too_late_gets_the_job_again(
    livekit_server: LiveKitServer, proxy: Proxy, room_name: str
) -> None:
    """A worker too busy to answer the job request within the server's 3 s deadline (a
    burst on a small machine; here it is stopped): the server drops the job with no retry
    and no webhook. The watcher reads that in the server log and re-issues the dispatch."""
    name = unique("stalled")
    worker = AgentWorker(livekit_server, name)
    try:
        worker.wait_registered()
        async with connected(
            livekit_server, plain_token(livekit_server, room_name, "user")
        ) as client:
            body = await dispatch_to_a_stopped_worker(livekit_server, proxy, worker, room_name)
            gave_up = time.monotonic()
            (agent,) = await client.wait_for_agents(1, timeout=20)
            after = client.agent_joined_at[agent.identity] - gave_up
    finally:
        worker.stop()
    print(f"\nagent in the room {after * 1000:.0f} ms after the server gave the first job up")
    events = kinds(proxy, room_name)
    assert events[:4] == ["dispatched", "not assigned", "re-dispatched", "agent joined"], events
    assert "context deadline exceeded" in json.dumps(delivery(proxy, room_name)["events"])
    assert agent.attributes["devstack.dispatch_id"] != body["dispatch_id"]  # the re-issued one
    metrics = httpx.get(f"{proxy.url}/metrics", timeout=10).text
    assert 'devstack_redispatches_total{reason="job_not_assigned"}' in metrics


async def test_job_the_server_gave_up_is_lost_with_redispatch_off(
    livekit_server: LiveKitServer, room_name: str
) -> None:
    """AGENT_REDISPATCH=off shows raw self-hosted behaviour: the job the server gave up
    brings no agent, and the proxy says why and counts it lost."""
    name = unique("stalled-raw")
    raw = Proxy(livekit_server, name, "http://127.0.0.1:9", AGENT_REDISPATCH="off")
    worker = AgentWorker(livekit_server, name)
    try:
        raw.wait_ready()
        worker.wait_registered()
        async with connected(
            livekit_server, plain_token(livekit_server, room_name, "user")
        ) as client:
            await dispatch_to_a_stopped_worker(livekit_server, raw, worker, room_name)
            assert await client.agents_seen_within(NO_AGENT_WINDOW) == 0
        events = kinds(raw, room_name)
        metrics = httpx.get(f"{raw.url}/metrics", timeout=10).text
    finally:
        worker.stop()
        raw.stop()
    assert events == ["dispatched", "not assigned"], events
    assert 'devstack_dispatches_lost_total{reason="not_assigned"} 1.0' in metrics


async def test_token_dispatch_the_server_gave_up_is_re_issued(
    livekit_server: LiveKitServer, proxy: Proxy, room_name: str
) -> None:
    """A token's room config dispatches into the room its join creates; the worker is too
    busy to answer in time: the watcher adopts the server's dispatch and re-issues it."""
    name = unique("stalled-token")
    worker = AgentWorker(livekit_server, name)
    try:
        worker.wait_registered()
        async with httpx.AsyncClient(base_url=proxy.url, timeout=15) as http:
            resp = await http.post(
                "/api/connection-details",
                json={"room_name": room_name, "room_config": {"agents": [{"agent_name": name}]}},
            )
        assert resp.status_code == 201, resp.text
        async with contextlib.AsyncExitStack() as stack:
            with worker.paused():  # its join creates the room, and so the dispatch
                token = resp.json()["participant_token"]
                client = await stack.enter_async_context(connected(livekit_server, token))
                await wait_for_job_given_up(livekit_server, room_name)
            await client.wait_for_agents(1, timeout=20)
    finally:
        worker.stop()
    events = kinds(proxy, room_name)
    assert events[:4] == ["dispatched", "not assigned", "re-dispatched", "agent joined"], events
    (d,) = delivery(proxy, room_name)["deliveries"]  # type: ignore[misc]
    assert d["source"] == "token" and d["redispatches"] == 1
