"""AGENT_FILE: your own worker file runs in place of the built-in one, in either style in
use, with the stack's server, keys and health port: the real server, `python -m agent` as
a process, and a real WebRTC client that sees the agent join."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from livekit import api, rtc

from devstack.local_server import LiveKitServer
from devstack.processes import ROOT, AgentWorker, base_env
from tests.support.clients import connected, plain_token

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# livekit-agents' own line once the server accepted the worker (the built-in worker's
# "registered as agent_name=" line is not in a user's file).
REGISTERED = "registered worker"


@dataclass(frozen=True)
class AgentFile:
    fixture: str
    style: str
    agent_name: str
    outside_repo: bool  # copied to a temporary folder, so nothing of the repo is importable
    main_block: bool = True  # False: the copy ends before `if __name__ == "__main__":`


SEED = AgentFile("seed_interviewer.py", "WorkerOptions style", "my-interviewer", False)
SERVER = AgentFile(
    "agent_server_style.py", "AgentServer style, run by cli.run_app", "my-server-agent", True
)
# No run_app call at all: found the way livekit-agents' discovery finds a server.
SERVER_ONLY = AgentFile(
    "agent_server_style.py",
    "AgentServer style, module-level `server`",
    "my-server-agent",
    True,
    main_block=False,
)


def agent_file_path(case: AgentFile, tmp_path: Path) -> str:
    """The AGENT_FILE value: repo-relative as a user would type it, or a path elsewhere."""
    if not case.outside_repo:
        return str((FIXTURES / case.fixture).relative_to(ROOT))
    source = (FIXTURES / case.fixture).read_text()
    if not case.main_block:
        source = source[: source.index('if __name__ == "__main__":')]
    path = tmp_path / case.fixture
    path.write_text(source)
    return str(path)


async def dispatch(server: LiveKitServer, agent_name: str, room: str) -> None:
    async with server.client() as lk:
        await lk.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name=agent_name, room=room)
        )


async def attribute(
    room: rtc.Room, participant: rtc.RemoteParticipant, key: str, timeout: float = 10
) -> str:
    """`participant`'s attribute `key` once it is set (the agent sets it after joining)."""
    changed = asyncio.Event()

    def on_change(*_: object) -> None:
        changed.set()

    room.on("participant_attributes_changed", on_change)
    try:
        async with asyncio.timeout(timeout):
            while True:
                changed.clear()
                if key in participant.attributes:
                    return participant.attributes[key]
                await changed.wait()
    finally:
        room.off("participant_attributes_changed", on_change)


@pytest.mark.parametrize(
    "case",
    [SEED, SERVER, SERVER_ONLY],
    ids=["worker-options", "agent-server", "agent-server-without-main-block"],
)
async def test_your_agent_file_joins_when_dispatched(
    livekit_server: LiveKitServer, room_name: str, tmp_path: Path, case: AgentFile
) -> None:
    """Your file's agent, under its own name, joins the room it is dispatched to."""
    path = agent_file_path(case, tmp_path)
    worker = AgentWorker(livekit_server, case.agent_name, AGENT_FILE=path)
    try:
        worker.wait_for_line(REGISTERED, timeout=60)
        token = plain_token(livekit_server, room_name, "candidate")
        async with connected(livekit_server, token) as client:
            await dispatch(livekit_server, case.agent_name, room_name)
            # The job runs in a job process that re-imports your file: joining proves it.
            (agent,) = await client.wait_for_agents(1)
            assert await attribute(client.room, agent, "lk.agent.state") == "listening"
            if case is SEED:  # the prewarm function ran in the job process
                question = await attribute(client.room, agent, "interviewer.question")
                assert question == "Tell me about yourself."
            else:  # the request handler ran in the job process: it chose the identity
                assert agent.identity.startswith("my-server-agent-")

        async with httpx.AsyncClient(timeout=5) as http:
            info = (await http.get(f"{worker.health_url}/worker")).json()
        assert info["agent_name"] == case.agent_name
        assert (
            f"running your agent file {path} ({case.style}) as agent_name={case.agent_name!r}"
            in worker.output
        )
        assert "deprecat" not in worker.output.lower()
    finally:
        worker.stop()


def run_agent(server: LiveKitServer, agent_file: str) -> subprocess.CompletedProcess[str]:
    """`python -m agent` with AGENT_FILE, run to its exit."""
    return subprocess.run(
        [sys.executable, "-m", "agent"],
        cwd=ROOT,
        env=base_env(server, AGENT_FILE=agent_file),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_missing_agent_file_is_one_line(livekit_server: LiveKitServer) -> None:
    """A path to no file stops the agent at once with one line naming AGENT_FILE."""
    result = run_agent(livekit_server, "path/to/nowhere.py")
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"agent: AGENT_FILE='path/to/nowhere.py': no such file (relative to {ROOT})"
    ]


def test_file_with_no_worker_is_one_line(livekit_server: LiveKitServer, tmp_path: Path) -> None:
    """A file that defines no worker says what it should contain, without a traceback."""
    path = tmp_path / "helpers.py"
    path.write_text("GREETING = 'hello'\n")
    result = run_agent(livekit_server, str(path))
    assert result.returncode != 0
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"agent: AGENT_FILE={str(path)!r} defines no worker: call cli.run_app")


def test_file_that_fails_to_import_shows_your_error_line(
    livekit_server: LiveKitServer, tmp_path: Path
) -> None:
    """An import error in your file is one line: your file, its line, and the exception."""
    path = tmp_path / "broken.py"
    path.write_text("from livekit.agents import cli\nimport not_installed_anywhere\n")
    result = run_agent(livekit_server, str(path))
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"agent: AGENT_FILE={str(path)!r} failed to load: {path}:2: "
        "ModuleNotFoundError: No module named 'not_installed_anywhere'"
    ]
