"""With the server's log at hand, the doctor knows every registered worker, including one
the stack did not start: it never contradicts its own probe, and it tells a typo from a
missing worker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.local_server import LiveKitServer
from devstack.processes import AgentWorker, Process
from devstack.waiting import free_port
from tests.support.doctor_cli import doctor
from tests.support.seed_worker import start_seed_worker

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def by_hand(livekit_server: LiveKitServer) -> Iterator[Process]:
    """A worker the stack did not start: the seeds' interviewer, run by hand."""
    worker = start_seed_worker(livekit_server)
    yield worker
    worker.stop()


def flags(server: LiveKitServer, worker_url: str, name: str) -> list[str]:
    assert server.log_path is not None
    return ["--server-log", str(server.log_path), "--worker-url", worker_url, "--agent-name", name]


def test_a_worker_the_stack_did_not_start_counts(
    livekit_server: LiveKitServer, named_worker: AgentWorker, by_hand: Process
) -> None:
    """Dispatching `my-interviewer` while the stack's own worker is another name: fine, and
    the probe agrees (today's doctor said "no worker takes it" after its probe joined)."""
    code, d = doctor(
        livekit_server, *flags(livekit_server, named_worker.health_url, "my-interviewer"), "--probe"
    )
    assert code == 0, d["verdict"]
    assert d["cause"] == "ok" and d["evidence"]["probe"]["joined"] is True
    names = next(c for c in d["checks"] if c["key"] == "names")
    assert names["status"] == "pass" and "registered by 1 worker" in names["evidence"]


def test_a_typo_is_told_from_the_right_name(
    livekit_server: LiveKitServer, named_worker: AgentWorker, by_hand: Process
) -> None:
    """`my-interviewr` is not `my-interviewer`: the verdict names the mismatch and the fix."""
    code, d = doctor(
        livekit_server, *flags(livekit_server, named_worker.health_url, "my-interviewr")
    )
    assert code == 1
    assert d["cause"] == "name_mismatch"
    assert "did you mean `my-interviewer`?" in d["verdict"]


def test_no_worker_of_that_name_when_the_stacks_worker_is_not_there(
    livekit_server: LiveKitServer, by_hand: Process
) -> None:
    """No health server to ask, but the log lists who is registered: the typo is named."""
    dead = f"http://127.0.0.1:{free_port()}"
    code, d = doctor(livekit_server, *flags(livekit_server, dead, "my-interviewr"))
    assert code == 1
    assert d["cause"] == "no_worker_registered"
    assert "did you mean `my-interviewer`?" in d["verdict"]
