"""Every way an agent does or does not join, reproduced with the real server, a real
worker process and a real WebRTC client. Each test asserts what the user would see:
does an AGENT participant appear, and how many."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import httpx
import pytest
from livekit import api

from devstack.local_server import LiveKitServer
from devstack.processes import AgentWorker, Proxy
from tests.support.clients import connected, peak_rms, plain_token, publish_wav
from tests.support.speech import read_wav, speech_wav

pytestmark = pytest.mark.integration

# An agent joins in well under a second here; a window this long makes "no agent" a
# finding, not a race.
NO_AGENT_WINDOW = 6.0
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


async def post(proxy: Proxy, path: str, body: dict[str, object]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=proxy.url, timeout=15) as http:
        return await http.post(path, json=body)


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


async def test_named_worker_is_not_auto_dispatched(
    livekit_server: LiveKitServer, named_worker: AgentWorker, room_name: str
) -> None:
    """Case 1, the classic bug: a named worker and a plain token give a room with no agent."""
    async with connected(livekit_server, plain_token(livekit_server, room_name, "user")) as client:
        assert await client.agents_seen_within(NO_AGENT_WINDOW) == 0
    assert f"room={room_name}" not in named_worker.output  # the worker never heard of it


async def test_explicit_dispatch_after_connect_brings_the_agent(
    livekit_server: LiveKitServer, named_worker: AgentWorker, proxy: Proxy, room_name: str
) -> None:
    """Case 2, the fix: connect, then POST /api/dispatch-agent; the agent joins."""
    async with connected(livekit_server, plain_token(livekit_server, room_name, "user")) as client:
        started = time.monotonic()
        resp = await post(proxy, "/api/dispatch-agent", {"room": room_name})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["success"] and body["room_existed"] and not body["already_dispatched"]
        assert body["dispatch_id"].startswith("AD_")
        assert body["message"] == f"Agent dispatched to room {room_name}"
        assert body["warning"] is None
        (agent,) = await client.wait_for_agents(1)
        latency = client.agent_joined_at[agent.identity] - started
        assert agent.attributes["devstack.dispatch_id"] == body["dispatch_id"]
        assert agent.attributes["lk.agent.state"] in ("initializing", "listening")
        await client.wait_for_text("loopback mode")  # the agent's text greeting
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "join-latency.json").write_text(
        json.dumps({"case": "explicit dispatch", "seconds": latency})
    )
    print(f"\njoin latency (dispatch request -> agent visible): {latency * 1000:.0f} ms")


async def test_dispatch_before_room_exists_creates_it(
    livekit_server: LiveKitServer, named_worker: AgentWorker, proxy: Proxy, room_name: str
) -> None:
    """Case 3: dispatching into a room that does not exist creates it; the agent is there at join."""
    resp = await post(proxy, "/api/dispatch-agent", {"room": room_name})
    assert resp.status_code == 200, resp.text
    assert resp.json()["room_existed"] is False
    async with connected(livekit_server, plain_token(livekit_server, room_name, "user")) as client:
        await client.wait_for_agents(1)


async def test_token_room_config_dispatches_agent(
    livekit_server: LiveKitServer, named_worker: AgentWorker, proxy: Proxy, room_name: str
) -> None:
    """Case 4: a token with RoomConfiguration agents dispatches the agent when it creates the room."""
    resp = await post(
        proxy, "/api/token", {"room": room_name, "dispatch": "token", "identity": "user"}
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["warning"] is None
    async with connected(livekit_server, resp.json()["token"]) as client:
        (agent,) = await client.wait_for_agents(1)
        assert agent.attributes["devstack.agent_name"] == named_worker.agent_name


async def test_token_room_config_is_ignored_when_room_exists(
    livekit_server: LiveKitServer, named_worker: AgentWorker, proxy: Proxy, room_name: str
) -> None:
    """Case 5: the same token, but the room already existed: the server ignores it, no agent."""
    async with livekit_server.client() as lk:
        await lk.room.create_room(api.CreateRoomRequest(name=room_name, empty_timeout=60))
    resp = await post(
        proxy, "/api/token", {"room": room_name, "dispatch": "token", "identity": "user"}
    )
    assert resp.status_code == 200, resp.text
    assert "already exists" in resp.json()["warning"]
    async with connected(livekit_server, resp.json()["token"]) as client:
        assert await client.agents_seen_within(NO_AGENT_WINDOW) == 0


async def test_token_room_config_is_ignored_when_an_earlier_participant_keeps_room_alive(
    livekit_server: LiveKitServer, named_worker: AgentWorker, proxy: Proxy, room_name: str
) -> None:
    """Case 5b: a room kept alive by an earlier participant ignores a later token's dispatch."""
    async with connected(livekit_server, plain_token(livekit_server, room_name, "early")):
        resp = await post(
            proxy, "/api/token", {"room": room_name, "dispatch": "token", "identity": "late"}
        )
        async with connected(livekit_server, resp.json()["token"]) as late:
            assert await late.agents_seen_within(NO_AGENT_WINDOW) == 0


async def test_name_mismatch_dispatch_succeeds_with_zero_jobs(
    livekit_server: LiveKitServer, named_worker: AgentWorker, proxy: Proxy, room_name: str
) -> None:
    """Case 6: dispatching a name no worker has 'succeeds', keeps zero jobs, and no agent comes."""
    wrong = unique_name("not-registered")
    async with connected(livekit_server, plain_token(livekit_server, room_name, "user")) as client:
        resp = await post(proxy, "/api/dispatch-agent", {"room": room_name, "agent_name": wrong})
        assert resp.status_code == 200 and resp.json()["success"] is True
        # The server cannot tell; the proxy can, from the worker's own health server.
        assert f"registered as {named_worker.agent_name!r}, not {wrong!r}" in resp.json()["warning"]
        assert await client.agents_seen_within(NO_AGENT_WINDOW) == 0
        async with httpx.AsyncClient(base_url=proxy.url) as http:
            room = (await http.get(f"/api/rooms/{room_name}")).json()
    (dispatch,) = [d for d in room["dispatches"] if d["agent_name"] == wrong]
    assert dispatch["jobs"] == []
    assert room["agents"] == []


async def test_dispatch_before_worker_registers_is_never_retried(
    livekit_server: LiveKitServer, room_name: str
) -> None:
    """Case 7: a dispatch made before its worker registered keeps zero jobs; no agent even
    after (the server's own behaviour: CreateDispatch straight to the server API)."""
    name = unique_name("late-worker")
    async with connected(livekit_server, plain_token(livekit_server, room_name, "user")) as client:
        async with livekit_server.client() as lk:
            await lk.agent_dispatch.create_dispatch(
                api.CreateAgentDispatchRequest(agent_name=name, room=room_name)
            )
        worker = AgentWorker(livekit_server, name)
        try:
            worker.wait_registered()
            assert await client.agents_seen_within(NO_AGENT_WINDOW) == 0
            assert f"room={room_name}" not in worker.output
        finally:
            worker.stop()


async def test_unnamed_worker_is_dispatched_automatically(
    livekit_server: LiveKitServer, room_name: str
) -> None:
    """Case 8: an unnamed worker (LIVEKIT_AGENT_NAME="") joins every new room with a plain token."""
    worker = AgentWorker(livekit_server, "")
    try:
        worker.wait_registered()
        async with connected(
            livekit_server, plain_token(livekit_server, room_name, "user")
        ) as client:
            (agent,) = await client.wait_for_agents(1)
            assert agent.attributes["devstack.agent_name"] == ""
    finally:
        worker.stop()


async def test_duplicate_dispatch_requests_give_one_agent(
    livekit_server: LiveKitServer, named_worker: AgentWorker, proxy: Proxy, room_name: str
) -> None:
    """Case 9: two /api/dispatch-agent calls at once give exactly one agent."""
    async with connected(livekit_server, plain_token(livekit_server, room_name, "user")) as client:
        first, second = await asyncio.gather(
            post(proxy, "/api/dispatch-agent", {"room": room_name}),
            post(proxy, "/api/dispatch-agent", {"room": room_name}),
        )
        bodies = [first.json(), second.json()]
        assert first.status_code == second.status_code == 200
        assert bodies[0]["dispatch_id"] == bodies[1]["dispatch_id"]
        assert sorted(b["already_dispatched"] for b in bodies) == [False, True]
        await client.wait_for_agents(1)
        again = (await post(proxy, "/api/dispatch-agent", {"room": room_name})).json()
        assert again["already_dispatched"] is True
        assert await client.agents_seen_within(3.0) == 1


async def test_raw_duplicate_create_dispatch_gives_two_agents(
    livekit_server: LiveKitServer, named_worker: AgentWorker, room_name: str
) -> None:
    """Case 9b: without the proxy, a second CreateDispatch launches a second agent."""
    async with connected(livekit_server, plain_token(livekit_server, room_name, "user")) as client:
        async with livekit_server.client() as lk:
            for _ in range(2):
                await lk.agent_dispatch.create_dispatch(
                    api.CreateAgentDispatchRequest(
                        agent_name=named_worker.agent_name, room=room_name
                    )
                )
        assert len(await client.wait_for_agents(2)) == 2


async def test_dispatch_again_after_agent_left(
    livekit_server: LiveKitServer, named_worker: AgentWorker, proxy: Proxy, room_name: str
) -> None:
    """A user asking again after the agent left gets a new agent, and is told so."""
    async with connected(livekit_server, plain_token(livekit_server, room_name, "user")) as client:
        first = (await post(proxy, "/api/dispatch-agent", {"room": room_name})).json()
        (agent,) = await client.wait_for_agents(1)
        async with livekit_server.client() as lk:
            await lk.room.remove_participant(
                api.RoomParticipantIdentity(room=room_name, identity=agent.identity)
            )
        await client.wait_for_no_agents()
        # The first dispatch is still young; what matters is that no agent is in the room.
        second = (await post(proxy, "/api/dispatch-agent", {"room": room_name})).json()
        assert second["already_dispatched"] is False
        assert second["replaced_dispatch_id"] == first["dispatch_id"]
        assert "again" in second["message"]
        await client.wait_for_agents(1)


async def test_dispatch_metadata_reaches_the_job(
    livekit_server: LiveKitServer, named_worker: AgentWorker, proxy: Proxy, room_name: str
) -> None:
    """Case 10: dispatch metadata reaches the job and shows in the agent's attributes and log."""
    metadata = {"user": "ada", "plan": "pro"}
    async with connected(livekit_server, plain_token(livekit_server, room_name, "user")) as client:
        resp = await post(proxy, "/api/dispatch-agent", {"room": room_name, "metadata": metadata})
        assert resp.status_code == 200, resp.text
        (agent,) = await client.wait_for_agents(1)
        assert json.loads(agent.attributes["devstack.metadata"]) == metadata
    line = named_worker.wait_for_line(f"job request: room={room_name}", 5)
    assert '{"user":"ada","plan":"pro"}' in line


async def test_loopback_agent_echoes_speech(
    livekit_server: LiveKitServer,
    named_worker: AgentWorker,
    proxy: Proxy,
    room_name: str,
    tmp_path: Path,
) -> None:
    """Case 11: spoken audio goes mic -> server -> agent -> server -> client, with the text
    line. The agent publishes its echo track when it first has something to play back."""
    samples, rate = read_wav(speech_wav(tmp_path))
    async with connected(livekit_server, plain_token(livekit_server, room_name, "user")) as client:
        await post(proxy, "/api/dispatch-agent", {"room": room_name})
        (agent,) = await client.wait_for_agents(1)
        assert not agent.track_publications  # nothing to say yet, so nothing published
        speaking = asyncio.create_task(publish_wav(client.room, samples, rate))
        track = await client.wait_for_agent_audio(agent.identity, timeout=30)
        loudest = await peak_rms(track, timeout=30, threshold=300)
        heard = await client.wait_for_text("heard ", timeout=20)
        await speaking
    seconds = float(heard.split()[1])
    assert seconds > 1.0, heard
    assert loudest > 300, f"agent audio stayed near silence (peak RMS {loudest:.0f})"
