"""The facts of the user's own agent that only the stack's state holds: the process the
supervisor cannot keep up (and why), the AGENT_DIR project it prepared, and what the
worker's own log says about a room's jobs after dispatch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from devstack.cloud_only import CloudNote
from devstack.crash import agent_crash
from devstack.state import PROCESSES, PROJECTS, read_states
from devstack.worker_log import JobFailure, WorkerLogs


def agent_crash_facts(state_dir: Path) -> dict[str, Any] | None:
    return agent_crash(read_states(state_dir, PROCESSES))


def project_facts(state_dir: Path) -> dict[str, Any] | None:
    """What `python -m agent` found of your AGENT_DIR project, if it runs one."""
    projects = read_states(state_dir, PROJECTS)
    if not projects:
        return None
    keep = ("root", "kind", "livekit_agents", "download_files_ok", "download_failures")
    return {k: projects[0].get(k) for k in keep}


def job_log(
    state_dir: Path, room: str, agent_name: str, since: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What the worker's log says of `agent_name`'s jobs in `room` since `since` (epoch
    seconds): the failures, and the warnings that block nothing (a plugin that needs
    LiveKit Cloud and runs without it, devstack/cloud_only.py)."""
    failures, notes = WorkerLogs(state_dir).read(room=room, since=since)

    def mine(x: JobFailure | CloudNote) -> bool:
        return not agent_name or x.agent_name in ("", agent_name)

    return [f.to_dict() for f in failures if mine(f)], [n.to_dict() for n in notes if mine(n)]
