"""AGENT_DIR: your own agent project, run as it is in its own environment, against the
real server, with a real WebRTC client; and what the stack says when it fails after
dispatch (the doctor's job_crashed, model_files_missing and session_failed)."""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass
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
# What the fixture project's agent sets on itself (tests/agent/project/src/agent.py).
FIXTURE_KEYS = ("python", "humanize", "greeting", "livekit_url", "inference_key")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the fixture project for the tests that do not edit it."""
    return copy_project(tmp_path_factory.mktemp("projects") / "my-agent")


async def dispatch(server: LiveKitServer, agent_name: str, room: str) -> None:
    async with server.client() as lk:
        await lk.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name=agent_name, room=room)
        )


async def agent_attributes(
    server: LiveKitServer, agent_name: str, room: str, *keys: str
) -> dict[str, str]:
    """A person joins `room`, dispatches `agent_name`, and reads what the agent set."""
    token = plain_token(server, room, "candidate")
    async with connected(server, token) as client:
        await dispatch(server, agent_name, room)
        (agent,) = await client.wait_for_agents(1, timeout=30)
        return {key: await attribute(client.room, agent, key) for key in keys}


def fixes(result: dict[str, object]) -> str:
    """The fixes the doctor printed under its failed check lines."""
    return " ".join(c["fix"] for c in result["checks"] if c["status"] == "fail")  # type: ignore[index, union-attr]


async def test_your_project_runs_in_its_own_environment(
    livekit_server: LiveKitServer, project: Path, room_name: str
) -> None:
    """The project's own venv, dependency and .env.local reach the job; the local server's
    URL wins over the project's Cloud one, whose key goes to LiveKit Inference; saving a
    file of the project restarts the worker, as `lk agent dev` does."""
    assert importlib.util.find_spec("humanize") is None, "the stack's venv must lack it"
    began = time.monotonic()
    worker = start_project_worker(livekit_server, project, "my-project-agent")
    try:
        first = registered_after(worker, began)
        seen = await agent_attributes(
            livekit_server, "my-project-agent", room_name,
            *(f"fixture.{key}" for key in FIXTURE_KEYS),
        )  # fmt: skip
        agent_file = project / "src" / "agent.py"
        saved = time.monotonic()
        agent_file.write_text(agent_file.read_text() + "# edited while the worker runs\n")
        again = registered_after(worker, saved, count=2)
        output = worker.output
    finally:
        worker.stop()
    print(f"\nAGENT_DIR time to registered: first start {first:.1f} s, after a save {again:.1f} s")
    assert seen["fixture.python"].startswith(str(project / ".venv")), seen
    assert seen["fixture.humanize"] and seen["fixture.greeting"] == "hello from .env.local"
    assert seen["fixture.livekit_url"] == livekit_server.url
    assert seen["fixture.inference_key"] == "APIfixturekey"
    assert "src/agent.py changed; restarting" in output
    # The restart found this lock's download-files result and said it in one line again.
    assert output.count(DOWNLOAD_FAILED) == 2, output[-3000:]
    assert "(this lock's earlier try)" in output
    # Stopped by the change as by Ctrl-C: the worker ends its jobs itself, nothing is an error.
    assert "ERROR" not in output and "Traceback" not in output, output[-3000:]
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
        seen = await agent_attributes(
            livekit_server, "my-old-agent", room_name, "fixture.livekit_agents"
        )
    finally:
        worker.stop()
    assert seen["fixture.livekit_agents"] == "1.2.18"
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
        seen = await agent_attributes(
            livekit_server, "my-project-agent", room_name, "fixture.python"
        )
        python = seen["fixture.python"]
    finally:
        worker.stop()
    assert "(requirements)" in worker.output
    assert "/livekit-devstack/venvs/" in python and not python.startswith(str(project))


@dataclass(frozen=True)
class AfterDispatch:
    """A way your agent fails once dispatched, and what the doctor must say of it."""

    agent_file: str
    agent_name: str
    joins: bool  # the agent joins first (its session fails later)
    logged: str  # the worker's own line that says it happened
    cause: str
    verdict_says: str
    fix_says: str


CRASHED = "unhandled exception while running the job task"
AFTER_DISPATCH = {
    # An entrypoint that raises before ctx.connect(): no agent, the exception's own line.
    "job-crashed": AfterDispatch(
        "src/crash_before_connect.py", "my-crashing-agent", False, CRASHED,
        "job_crashed", "RuntimeError: FIXTURE_DATABASE_URL is not set", "traceback",
    ),
    # LiveKit Inference offline: it joins, then every model call fails; never "nothing
    # blocks it".
    "session-failed": AfterDispatch(
        "src/inference_agent.py", "my-inference-agent", True,
        "failed to connect to LiveKit Inference", "session_failed", "LiveKit Inference",
        "LIVEKIT_INFERENCE_API_KEY",
    ),
    # The turn detector, download-files failed at start (offline): the job crashes first.
    "model-files-missing": AfterDispatch(
        "src/turn_detector_agent.py", "my-turn-agent", False, CRASHED,
        "model_files_missing", "languages.json", "download-files",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", AFTER_DISPATCH.values(), ids=AFTER_DISPATCH.keys())
async def test_a_failure_after_dispatch_is_named_by_the_doctor(
    livekit_server: LiveKitServer, tmp_path: Path, room_name: str, case: AfterDispatch
) -> None:
    """Each failure after dispatch gets its own verdict, from the worker's own log."""
    fresh = copy_project(tmp_path / "my-agent")  # a first start: download-files runs
    worker = start_project_worker(livekit_server, fresh, case.agent_name, case.agent_file)
    try:
        worker.wait_for_line(REGISTERED, timeout=120)
        failed = [line for line in worker.lines if DOWNLOAD_FAILED in line]
        assert len(failed) == 1 and "livekit.plugins.turn_detector" in failed[0]
        token = plain_token(livekit_server, room_name, "candidate")
        async with connected(livekit_server, token) as client:
            await dispatch(livekit_server, case.agent_name, room_name)
            if case.joins:
                await client.wait_for_agents(1, timeout=30)
            worker.wait_for_line(case.logged, timeout=60)
            code, result = doctor(
                livekit_server,
                "--room", room_name, "--agent-name", case.agent_name,
                "--worker-url", worker.health_url,
                env=stack_state_env(livekit_server),
            )  # fmt: skip
    finally:
        worker.stop()
    assert code == 1
    assert result["cause"] == case.cause, result["verdict"]
    assert case.verdict_says in result["verdict"]
    assert case.fix_says in fixes(result)
