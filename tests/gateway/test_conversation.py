"""An unchanged agent talks offline through the gateway: real server, real worker, a real
livekit.rtc person, real engines."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from livekit import api

from devstack.local_server import LiveKitServer
from devstack.processes import ROOT, AgentWorker, Gateway
from tests.support.clients import connected, peak_rms, plain_token, publish_wav
from tests.support.speech import read_wav, speech_wav

pytestmark = pytest.mark.integration

STRING_AGENT = Path(__file__).resolve().parents[1] / "agent" / "fixtures" / "string_models_agent.py"


@pytest.fixture(scope="module")
def talking_worker(livekit_server: LiveKitServer, gateway: Gateway) -> Iterator[AgentWorker]:
    name = f"strings-{uuid.uuid4().hex[:4]}"
    worker = AgentWorker(
        livekit_server,
        name,
        AGENT_FILE=str(STRING_AGENT.relative_to(ROOT)),
        **gateway.env_for_workers(),
    )
    try:
        worker.wait_for_line("registered worker", timeout=120)
        yield worker
    finally:
        worker.stop()


async def test_an_agent_with_inference_strings_greets_a_silent_person(
    livekit_server: LiveKitServer, gateway: Gateway, talking_worker: AgentWorker
) -> None:
    """seed 003's style (stt=, llm=, tts= as "provider/model" strings): the person says
    nothing, and hears a spoken greeting whose words arrive as the agent's transcription."""
    room = f"greet-{uuid.uuid4().hex[:6]}"
    async with connected(livekit_server, plain_token(livekit_server, room, "person")) as client:
        async with livekit_server.client() as lk:
            await lk.agent_dispatch.create_dispatch(
                api.CreateAgentDispatchRequest(agent_name=talking_worker.agent_name, room=room)
            )
        (agent,) = await client.wait_for_agents(1, timeout=60)
        track = await client.wait_for_agent_audio(agent.identity, timeout=60)
        # Listening from the first sample: the text stream completes when the speech ends.
        heard = asyncio.create_task(peak_rms(track, timeout=60, threshold=500))
        greeting = await client.wait_for_text("stand-in model", timeout=60)
        loudest = await heard
    assert greeting.startswith("Hello!"), greeting
    assert loudest > 500, f"the greeting was not heard (peak RMS {loudest:.0f})"
    assert "ERROR" not in talking_worker.output, talking_worker.output[-3000:]
    health = httpx.get(f"{gateway.url}/health", timeout=5).json()
    assert "stand-in" in health["llm"]


@pytest.fixture(scope="module")
def built_in_talker(livekit_server: LiveKitServer, gateway: Gateway) -> Iterator[AgentWorker]:
    """The stack's own worker in AGENT_MODE=inference, on the gateway."""
    worker = AgentWorker(
        livekit_server,
        f"talker-{uuid.uuid4().hex[:4]}",
        AGENT_MODE="inference",
        **gateway.env_for_workers(),
    )
    try:
        worker.wait_registered(timeout=120)
        yield worker
    finally:
        worker.stop()


async def test_the_built_in_agent_holds_a_spoken_conversation(
    livekit_server: LiveKitServer,
    gateway: Gateway,
    built_in_talker: AgentWorker,
    tmp_path: Path,
) -> None:
    """The person hears a greeting, says a sentence into a real microphone track, and the
    agent answers with the words it heard (Whisper heard them; the stand-in says them back)."""
    room = f"talk-{uuid.uuid4().hex[:6]}"
    samples, rate = read_wav(speech_wav(tmp_path, "What is the weather like in Paris today?"))
    async with connected(livekit_server, plain_token(livekit_server, room, "person")) as client:
        async with livekit_server.client() as lk:
            await lk.agent_dispatch.create_dispatch(
                api.CreateAgentDispatchRequest(agent_name=built_in_talker.agent_name, room=room)
            )
        (agent,) = await client.wait_for_agents(1, timeout=60)
        await client.wait_for_text("stand-in model", timeout=60)
        await client.wait_for_agent_state(agent.identity, "listening", timeout=30)
        await publish_wav(client.room, samples, rate)
        answer = await client.wait_for_text("You said:", timeout=60)
    assert "weather" in answer.lower() and "paris" in answer.lower(), answer
    assert (
        "MODE inference" in built_in_talker.output
        or "AGENT_MODE=inference" in built_in_talker.output
    )
