"""The gateway killed mid-conversation: its supervisor starts it again, the session that was
using it sees the error, and its next turn is answered, as `make dev` runs them (the
gateway under `python -m supervisor`, the built-in agent talking through it)."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from livekit import api

from devstack.local_server import LiveKitServer
from devstack.processes import AgentWorker, Gateway
from devstack.waiting import http_ok, wait_until
from tests.support.clients import connected, plain_token, publish_wav
from tests.support.speech import read_wav, speech_wav

pytestmark = pytest.mark.integration


@pytest.fixture
def supervised_gateway(livekit_server: LiveKitServer) -> Iterator[Gateway]:
    process = Gateway(livekit_server, supervised=True)
    try:
        process.wait_ready(timeout=120)
        yield process
    finally:
        process.stop()


def restarted(gateway: Gateway, killed: int) -> None:
    """Until the supervisor runs a new gateway and it answers again."""

    def answering() -> bool:
        gateway.check_running()
        state = gateway.supervised_state()
        return state.get("pid") not in (None, killed) and http_ok(gateway.url + "/health")

    wait_until(answering, timeout=60, what="the supervisor to start the gateway again")


async def test_a_crashed_gateway_is_restarted_and_the_next_turn_is_answered(
    livekit_server: LiveKitServer, supervised_gateway: Gateway, tmp_path: Path
) -> None:
    worker = AgentWorker(
        livekit_server,
        f"crash-{uuid.uuid4().hex[:4]}",
        AGENT_MODE="inference",
        **supervised_gateway.env_for_workers(),
    )
    room = f"gateway-crash-{uuid.uuid4().hex[:6]}"
    try:
        worker.wait_registered(timeout=120)
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        first = read_wav(speech_wav(tmp_path / "a", "What is the weather like in Paris today?"))
        second = read_wav(speech_wav(tmp_path / "b", "Please book a table for two people."))
        token = plain_token(livekit_server, room, "person")
        async with connected(livekit_server, token) as client:
            async with livekit_server.client() as lk:
                await lk.agent_dispatch.create_dispatch(
                    api.CreateAgentDispatchRequest(agent_name=worker.agent_name, room=room)
                )
            (agent,) = await client.wait_for_agents(1, timeout=60)
            await client.wait_for_text("stand-in model", timeout=60)
            await client.wait_for_agent_state(agent.identity, "listening", timeout=30)
            await publish_wav(client.room, *first)
            await client.wait_for_text("Paris", timeout=60)
            await client.wait_for_agent_state(agent.identity, "listening", timeout=30)

            killed = supervised_gateway.supervised_pid()
            os.kill(killed, signal.SIGKILL)
            await asyncio.to_thread(restarted, supervised_gateway, killed)
            await publish_wav(client.room, *second)
            answer = await client.wait_for_nth_text("You said:", 2, timeout=90)
        assert "table" in answer.lower(), answer
        # The session saw the gateway go (its STT socket refused, retried, given up once),
        # and lived on: livekit-agents closes a session only after more such errors.
        assert "failed to recognize speech" in worker.output
        assert "AgentSession is closing" not in worker.output, worker.output[-3000:]
    finally:
        worker.stop()
