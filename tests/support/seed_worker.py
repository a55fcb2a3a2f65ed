"""The seeds' interviewer, run by hand as its README says (`python agent.py dev`) with the
stack's keys: a worker the stack did not start, whose health port it does not know."""

from __future__ import annotations

import sys

from devstack.local_server import LiveKitServer
from devstack.processes import ROOT, Process, base_env

SEED = ROOT / "tests/agent/fixtures/seed_interviewer.py"
SEED_AGENT = "my-interviewer"


def start_seed_worker(server: LiveKitServer) -> Process:
    """Started and registered (livekit-agents' own 'registered worker' line)."""
    return _registered(
        Process("seed interviewer", [sys.executable, str(SEED), "dev"], base_env(server))
    )


def _registered(worker: Process) -> Process:
    """`worker` once livekit-agents logged 'registered worker'; stopped if it never does."""
    try:
        worker.wait_for_line("registered worker", timeout=60)
    except BaseException:
        worker.stop()
        raise
    return worker
