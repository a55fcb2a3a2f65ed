"""LiveKit Cloud's noise cancellation offline (ai-coustics, BVC), in your own AGENT_DIR
project against the real server, with a person who speaks: the agent still hears them, the
stack says once per plugin that it runs without Cloud, as a warning, and nothing counts it
as a failure (no ERROR line, no failing check in the doctor)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from devstack.crash import plain
from devstack.local_server import LiveKitServer
from tests.agent.test_agent_project import dispatch
from tests.support.agent_project import (
    PROJECT_NOISE,
    REGISTERED,
    copy_project,
    start_project_worker,
)
from tests.support.clients import Client, connected, plain_token, publish_wav
from tests.support.doctor_cli import doctor, stack_state_env
from tests.support.speech import read_wav, speech_wav

pytestmark = pytest.mark.integration
AGENT = "my-noise-agent"
# The runner's warnings (agent/job_path/devstack_offline_plugins.py), one per plugin.
WARNINGS = {
    "ai_coustics": "WARNING livekit.plugins.ai_coustics - ai-coustics noise cancellation "
    "(livekit-plugins-ai-coustics) needs LiveKit Cloud",
    "bvc": "WARNING livekit.plugins.noise_cancellation - LiveKit noise cancellation BVC/NC "
    "(livekit-plugins-noise-cancellation) needs LiveKit Cloud",
}
# ai-coustics enhances while it asks Cloud for its authorization, about 10 s after its
# first frame: the person's second sentence comes well after that.
PAUSE_SECONDS = 13
FRAMES_HEARD = 20  # 10 ms frames of speech: 200 ms


async def frames_over(client: Client, identity: str, key: str, count: int) -> int:
    """The agent's count `key` once it reaches `count` (fails at the deadline)."""

    def value() -> int:
        agent = client.room.remote_participants.get(identity)
        return int(agent.attributes.get(key, "0")) if agent else 0

    if not await client._wait(lambda: value() >= count, timeout=20):
        raise AssertionError(f"{key} is {value()}, expected at least {count}")
    return value()


async def test_cloud_noise_cancellation_offline_is_one_warning_per_plugin(
    livekit_server: LiveKitServer, tmp_path: Path, room_name: str
) -> None:
    project = copy_project(tmp_path / "noise-agent", PROJECT_NOISE)
    speech, rate = read_wav(speech_wav(tmp_path, "Hello agent, can you hear me?"))
    # One microphone track: a sentence, a pause, and a sentence after the pause.
    spoken = np.concatenate([speech, np.zeros(rate * PAUSE_SECONDS, dtype=np.int16), speech])
    worker = start_project_worker(livekit_server, project, AGENT)
    try:
        worker.wait_for_line(REGISTERED, timeout=300)
        token = plain_token(livekit_server, room_name, "person")
        async with connected(livekit_server, token) as client:
            await dispatch(livekit_server, AGENT, room_name)
            (agent,) = await client.wait_for_agents(1, timeout=30)
            await publish_wav(client.room, spoken, rate)
            # Both cancellers let the person through; ai-coustics' frames after its refusal
            # are the person's own, unenhanced.
            for name in ("ai_coustics", "bvc"):
                await frames_over(client, agent.identity, f"fixture.heard.{name}", FRAMES_HEARD)
            unenhanced = "fixture.unenhanced.ai_coustics"
            await frames_over(client, agent.identity, unenhanced, FRAMES_HEARD)
            asked = (
                "--room", room_name, "--agent-name", AGENT, "--worker-url", worker.health_url,
            )  # fmt: skip
            code, result = doctor(livekit_server, *asked, env=stack_state_env(livekit_server))
            _, printed = doctor(
                livekit_server, *asked, human=True, env=stack_state_env(livekit_server)
            )
    finally:
        worker.stop()
    lines = [plain(line) for line in worker.lines]
    for name, warning in WARNINGS.items():
        said = [line for line in lines if warning in line]
        assert len(said) == 1, (name, said, worker.output[-4000:])
        assert "Your agent still hears the person." in said[0]
    # Neither the plugins' own ERROR records nor the BVC library's stderr lines are left.
    assert not [line for line in lines if "ERROR" in line], worker.output[-4000:]
    # The doctor: the agent is there, nothing blocks it, and the line warns of both.
    assert code == 0 and result["cause"] == "agent_present", result["verdict"]
    assert not [c for c in result["checks"] if c["status"] == "fail"], result["checks"]
    (cloud_only,) = [c for c in result["checks"] if c["key"] == "cloud_only"]
    assert cloud_only["status"] == "warn"
    assert "livekit-plugins-ai-coustics" in cloud_only["evidence"]
    assert "livekit-plugins-noise-cancellation" in cloud_only["evidence"]
    assert result["evidence"]["job_failures"] == []
    print(printed)
    assert "\n! Cloud only  " in printed and "nothing blocks it" in printed
