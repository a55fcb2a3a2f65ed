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


PLAIN = ROOT / "bench/plain_agent.py"
PLAIN_AGENT = "plain-agent"


def start_plain_worker(server: LiveKitServer, *, announce: bool = False, port: int = 0) -> Process:
    """The benchmark's seed-style baseline: joins and publishes nothing (with `announce`,
    it sets one attribute right after connecting); its health server on `port`."""
    env = base_env(server, PLAIN_AGENT_NAME=PLAIN_AGENT, PLAIN_AGENT_PORT=str(port))
    if announce:
        env["PLAIN_AGENT_ANNOUNCE"] = "1"
    return _registered(Process("plain agent", [sys.executable, str(PLAIN), "dev"], env))
