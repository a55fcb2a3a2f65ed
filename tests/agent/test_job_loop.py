"""The built-in agent's jobs share one event loop in the worker (AGENT_JOB_EXECUTOR=auto,
agent/job_loop.py): one job ending must end only what that job started, and the loop must
go on serving the others and the next one."""

from __future__ import annotations

import pytest
from livekit import api

from devstack.local_server import LiveKitServer
from devstack.processes import AgentWorker
from tests.support.clients import connected, plain_token

pytestmark = pytest.mark.integration


async def test_a_job_ending_on_the_shared_loop_leaves_the_others_running(
    livekit_server: LiveKitServer, named_worker: AgentWorker, room_name: str
) -> None:
    assert "on one shared event loop (AGENT_JOB_EXECUTOR=auto)" in named_worker.output
    rooms = [f"{room_name}-{i}" for i in range(3)]
    tokens = [plain_token(livekit_server, room, "user") for room in rooms]

    async def dispatch(room: str) -> None:
        await lk.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name=named_worker.agent_name, room=room)
        )

    async with (
        livekit_server.client() as lk,
        connected(livekit_server, tokens[0]) as leaving,
        connected(livekit_server, tokens[1]) as staying,
    ):
        for room in rooms[:2]:
            await dispatch(room)
        for client in (leaving, staying):
            await client.wait_for_agents(1)
            await client.wait_for_text("loopback mode")

        # One job ends (the agent asked to leave): its tasks end with it, on the loop the
        # other job runs on too.
        await leaving.room.local_participant.send_text("/leave", topic="lk.chat")
        await leaving.wait_for_no_agents()

        # The other job still answers, and a new job still starts.
        await staying.room.local_participant.send_text("still there?", topic="lk.chat")
        await staying.wait_for_text("you wrote 'still there?'")
        async with connected(livekit_server, tokens[2]) as newcomer:
            await dispatch(rooms[2])
            await newcomer.wait_for_agents(1)
            await newcomer.wait_for_text("loopback mode")
        assert len(staying.agents()) == 1
