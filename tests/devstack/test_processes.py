"""Every process of the stack fails a bad setting with one line, and the helpers that wait
on a process fail at once, with its last log lines, when it exits."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest

from devstack.local_server import LiveKitServer
from devstack.processes import ROOT, AgentWorker, Process, base_env
from devstack.waiting import ProcessExitedError, wait_until

pytestmark = pytest.mark.integration

ENTRY_POINTS = {
    "agent": [sys.executable, "-m", "agent"],
    "proxy": [sys.executable, "-m", "proxy"],
    "devstack": [sys.executable, "-m", "doctor.cli", "doctor"],
}


@pytest.mark.parametrize("process", sorted(ENTRY_POINTS))
@pytest.mark.parametrize(
    ("var", "value"), [("AGENT_HTTP_PORT", "eighty"), ("LIVEKIT_URL", "localhost:7880")]
)
def test_bad_setting_is_one_line_in_every_process(
    livekit_server: LiveKitServer, process: str, var: str, value: str
) -> None:
    """The same message from the worker, the proxy and the doctor: variable, value, example."""
    env = base_env(livekit_server, **{var: value})
    done = subprocess.run(
        ENTRY_POINTS[process], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"{process}: {var}={value!r}:") and "(example: " in lines[0]


def test_wait_fails_at_once_with_the_log_tail_when_the_process_exits(
    livekit_server: LiveKitServer,
) -> None:
    """A worker that cannot start is reported in well under the wait's timeout, with why."""
    worker = AgentWorker(livekit_server, "broken", AGENT_JOB_EXECUTOR="fork")
    started = time.monotonic()
    try:
        with pytest.raises(ProcessExitedError) as err:
            worker.wait_registered(timeout=60)
    finally:
        worker.stop()
    assert time.monotonic() - started < 30
    assert "AGENT_JOB_EXECUTOR='fork'" in str(err.value)


def test_stop_ends_the_whole_process_group() -> None:
    """stop() leaves no child behind: job processes die with their worker."""
    proc = Process(
        "sleeper",
        [sys.executable, "-c", "import subprocess,time; subprocess.Popen(['sleep','60']); "
         "print('ready', flush=True); time.sleep(60)"],
        {"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    proc.wait_for_line("ready", timeout=20)
    pgid = proc.pid
    proc.stop(timeout=5)

    def group_gone() -> bool:
        alive = subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, text=True)
        return alive.stdout.strip() == ""

    # SIGKILL is delivered at once; the kernel reaps the child a moment later.
    wait_until(group_gone, timeout=5, what="the process group to be gone")


def test_the_worker_prints_no_deprecation_warning(named_worker: AgentWorker) -> None:
    """The worker runs through livekit-agents' current interface: nothing deprecated or removed."""
    # Words, not a substring: a blocked-loop report from livekit-agents' loop monitor quotes
    # a stack sample, whose frames may pass through livekit/agents/utils/deprecation.py.
    said = re.findall(
        r"\bdeprecated\b|deprecationwarning|has been removed", named_worker.output.lower()
    )
    assert said == [], named_worker.output
    assert "media mode loopback: AGENT_MODE=loopback" in named_worker.output
