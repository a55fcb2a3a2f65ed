"""AGENT_DIR: your own agent project, run as it is in its own environment, against the
real server, with a real WebRTC client; and what the stack says when it fails after
dispatch (the doctor's job_crashed, model_files_missing and session_failed)."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest
from livekit import api

from devstack.local_server import LiveKitServer
from tests.agent.test_agent_file import attribute
from tests.support.agent_project import (
    DOWNLOAD_FAILED,
    PROJECT_1_2,
    REGISTERED,
    copy_project,
    registered_after,
    start_project_worker,
)
from tests.support.clients import connected, plain_token
from tests.support.doctor_cli import doctor, stack_state_env

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the fixture project for the tests that do not edit it."""
    return copy_project(tmp_path_factory.mktemp("projects") / "my-agent")


async def dispatch(server: LiveKitServer, agent_name: str, room: str) -> None:
    async with server.client() as lk:
        await lk.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name=agent_name, room=room)
        )


def fixes(result: dict[str, object]) -> str:
    """The fixes the doctor printed under its failed check lines."""
    return " ".join(c["fix"] for c in result["checks"] if c["status"] == "fail")  # type: ignore[index, union-attr]


async def test_your_project_runs_in_its_own_environment(
    livekit_server: LiveKitServer, project: Path, room_name: str
) -> None:
    """The project's own venv, dependency and .env.local reach the job; the local server's
    URL wins over the project's Cloud one, whose key goes to LiveKit Inference."""
    assert importlib.util.find_spec("humanize") is None, "the stack's venv must lack it"
    times = []
    for start in (1, 2):
        began = time.monotonic()
        worker = start_project_worker(livekit_server, project, "my-project-agent")
        try:
            times.append(registered_after(worker, began))
            output = worker.output
            if start == 1:
                token = plain_token(livekit_server, room_name, "candidate")
                async with connected(livekit_server, token) as client:
                    await dispatch(livekit_server, "my-project-agent", room_name)
                    (agent,) = await client.wait_for_agents(1, timeout=30)
                    seen = {
                        key: await attribute(client.room, agent, f"fixture.{key}")
                        for key in ("python", "humanize", "greeting", "livekit_url")
                    }
                    inference_key = agent.attributes.get("fixture.inference_key")
        finally:
            worker.stop()
    print(f"\nAGENT_DIR time to registered: first start {times[0]:.1f} s, second {times[1]:.1f} s")
    assert seen["python"].startswith(str(project / ".venv")), seen
    assert seen["humanize"] and seen["greeting"] == "hello from .env.local"
    assert seen["livekit_url"] == livekit_server.url
    assert inference_key == "APIfixturekey"
    # The second start found this lock's download-files result and said it in one line.
    assert output.count(DOWNLOAD_FAILED) == 1, output[-3000:]
    assert "livekit-agents 1.8.9" in output and "deprecat" not in output.lower()


async def test_a_project_on_livekit_agents_1_2_runs_its_own_version(
    livekit_server: LiveKitServer, tmp_path: Path, room_name: str
) -> None:
    """The project's livekit-agents is the project's: 1.2 (WorkerOptions, its own CLI's
    `start`) registers and joins; the stack installs nothing of its own 1.8 into it."""
    old = copy_project(tmp_path / "old-agent", PROJECT_1_2)
    worker = start_project_worker(livekit_server, old, "my-old-agent")
    try:
        worker.wait_for_line(REGISTERED, timeout=180)
        token = plain_token(livekit_server, room_name, "candidate")
        async with connected(livekit_server, token) as client:
            await dispatch(livekit_server, "my-old-agent", room_name)
            (agent,) = await client.wait_for_agents(1, timeout=30)
            version = await attribute(client.room, agent, "fixture.livekit_agents")
    finally:
        worker.stop()
    assert version == "1.2.18"
    assert "(WorkerOptions style) as agent_name='my-old-agent'" in worker.output
    assert "livekit-agents 1.2.18" in worker.output


async def test_a_requirements_txt_project_gets_a_cached_venv(
    livekit_server: LiveKitServer, tmp_path: Path, room_name: str
) -> None:
    """A project with only requirements.txt: a venv in the stack's cache, keyed by the
    file's contents, built once and found again; the agent joins from it."""
    project = copy_project(tmp_path / "req-agent")
    (project / "pyproject.toml").unlink()
    (project / "uv.lock").unlink()
    (project / "requirements.txt").write_text(
        "livekit-agents[silero,turn-detector]==1.8.9\nhumanize>=4.9\npython-dotenv>=1.0\n"
    )
    worker = start_project_worker(livekit_server, project, "my-project-agent")
    try:
        worker.wait_for_line(REGISTERED, timeout=180)
        token = plain_token(livekit_server, room_name, "candidate")
        async with connected(livekit_server, token) as client:
            await dispatch(livekit_server, "my-project-agent", room_name)
            (agent,) = await client.wait_for_agents(1, timeout=30)
            python = await attribute(client.room, agent, "fixture.python")
    finally:
        worker.stop()
    assert "(requirements)" in worker.output
    assert "/livekit-devstack/venvs/" in python and not python.startswith(str(project))


async def test_entrypoint_that_raises_is_job_crashed(
    livekit_server: LiveKitServer, project: Path, room_name: str
) -> None:
    """A job whose entrypoint raises before ctx.connect(): no agent, and the doctor gives
    the exception's own line from the worker's log."""
    worker = start_project_worker(
        livekit_server, project, "my-crashing-agent", "src/crash_before_connect.py"
    )
    try:
        worker.wait_for_line(REGISTERED, timeout=120)
        token = plain_token(livekit_server, room_name, "candidate")
        async with connected(livekit_server, token):
            await dispatch(livekit_server, "my-crashing-agent", room_name)
            worker.wait_for_line("unhandled exception while running the job task", timeout=60)
            code, result = doctor(
                livekit_server,
                "--room", room_name, "--agent-name", "my-crashing-agent",
                "--worker-url", worker.health_url,
                env=stack_state_env(livekit_server),
            )  # fmt: skip
    finally:
        worker.stop()
    assert code == 1
    assert result["cause"] == "job_crashed", result["verdict"]
    assert "RuntimeError: FIXTURE_DATABASE_URL is not set" in result["verdict"]


async def test_inference_agent_joins_then_session_failed(
    livekit_server: LiveKitServer, project: Path, room_name: str
) -> None:
    """An agent on LiveKit Inference joins, then every model call fails offline: the
    doctor says session_failed and names LiveKit Inference, never 'nothing blocks it'."""
    worker = start_project_worker(
        livekit_server, project, "my-inference-agent", "src/inference_agent.py"
    )
    try:
        worker.wait_for_line(REGISTERED, timeout=120)
        token = plain_token(livekit_server, room_name, "candidate")
        async with connected(livekit_server, token) as client:
            await dispatch(livekit_server, "my-inference-agent", room_name)
            await client.wait_for_agents(1, timeout=30)
            worker.wait_for_line("failed to connect to LiveKit Inference", timeout=60)
            code, result = doctor(
                livekit_server,
                "--room", room_name, "--agent-name", "my-inference-agent",
                "--worker-url", worker.health_url,
                env=stack_state_env(livekit_server),
            )  # fmt: skip
    finally:
        worker.stop()
    assert code == 1
    assert result["cause"] == "session_failed", result["verdict"]
    assert "LiveKit Inference" in result["verdict"]
    assert "LIVEKIT_INFERENCE_API_KEY" in fixes(result)


async def test_turn_detector_without_model_files_is_model_files_missing(
    livekit_server: LiveKitServer, tmp_path: Path, room_name: str
) -> None:
    """download-files failed at start (offline) in one line; the job that loads the turn
    detector crashes before joining, and the doctor says model_files_missing."""
    fresh = copy_project(tmp_path / "turn-agent")  # a first start: download-files runs
    worker = start_project_worker(
        livekit_server, fresh, "my-turn-agent", "src/turn_detector_agent.py"
    )
    try:
        worker.wait_for_line(REGISTERED, timeout=120)
        failed = [line for line in worker.lines if DOWNLOAD_FAILED in line]
        assert len(failed) == 1, worker.output[-3000:]
        assert "livekit.plugins.turn_detector" in failed[0]
        token = plain_token(livekit_server, room_name, "candidate")
        async with connected(livekit_server, token):
            await dispatch(livekit_server, "my-turn-agent", room_name)
            worker.wait_for_line("unhandled exception while running the job task", timeout=60)
            code, result = doctor(
                livekit_server,
                "--room", room_name, "--agent-name", "my-turn-agent",
                "--worker-url", worker.health_url,
                env=stack_state_env(livekit_server),
            )  # fmt: skip
    finally:
        worker.stop()
    assert code == 1
    assert result["cause"] == "model_files_missing", result["verdict"]
    assert "languages.json" in result["verdict"]
    assert "download-files" in fixes(result)
