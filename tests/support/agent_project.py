"""The fixture agent project (tests/agent/project, laid out as agent-starter-python), run
through AGENT_DIR as a user runs theirs: a copy per test, since tests edit it and the
stack syncs its environment inside it."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from devstack.local_server import LiveKitServer
from devstack.processes import AgentWorker
from devstack.waiting import wait_until

PROJECT = Path(__file__).resolve().parents[1] / "agent" / "project"
# The same kind of project still on livekit-agents 1.2 (before AgentServer).
PROJECT_1_2 = PROJECT.with_name("project_1_2")
# A project with LiveKit Cloud's noise cancellation (ai-coustics, BVC) on its audio input.
PROJECT_NOISE = PROJECT.with_name("project_noise")
# livekit-agents' own line once the server accepted the worker (every version logs it).
REGISTERED = "registered worker"
# The runner's download-files warning (agent/download_files.py): one line per start at most.
DOWNLOAD_FAILED = "[agent] warning: download-files failed"


def copy_project(dest: Path, source: Path = PROJECT) -> Path:
    """A fresh copy of a fixture project, without an environment: the stack builds it."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns(".venv", "__pycache__"))
    return dest


def start_project_worker(
    server: LiveKitServer, project: Path, agent_name: str, agent_file: str = "", **env: str
) -> AgentWorker:
    """`python -m supervisor agent --watch-agent -- python -m agent` with AGENT_DIR, as the
    Procfile runs it; its output also lands in the state dir's logs/, where the proxy and
    the doctor read the worker's own log."""
    if agent_file:
        env["AGENT_FILE"] = agent_file
    return AgentWorker(
        server, agent_name, supervised=True, watch_agent=True, AGENT_DIR=str(project), **env
    )


def registered_after(worker: AgentWorker, started: float, count: int = 1) -> float:
    """Seconds from `started` (time.monotonic) until the worker's `count`-th registration."""

    def registered() -> bool:
        worker.check_running()
        return sum(REGISTERED in line for line in worker.lines) >= count

    wait_until(registered, timeout=120, what=f"{worker.name} to register ({count})")
    return time.monotonic() - started


def wait_for_state(worker: AgentWorker, state: str, timeout: float = 90) -> dict[str, object]:
    """The supervisor's state file once it says `state` (running, crash-looping, ...)."""

    def reached() -> dict[str, object] | None:
        worker.check_running()
        current = worker.supervised_state()
        return current if current.get("state") == state else None

    try:
        return wait_until(reached, timeout=timeout, what=f"the supervisor to say {state}")
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}\n--- output ---\n{worker.output[-3000:]}") from None
