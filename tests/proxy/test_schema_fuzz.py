"""Schemathesis against /openapi.json of a real proxy process in front of a real
livekit-server: every check, at least 1,000 generated requests, and not one failure. So the
schema states every rule the proxy enforces, and no input makes it answer 5xx."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.local_server import choose_runtime, start_livekit_server
from devstack.processes import ROOT, Proxy
from devstack.waiting import free_port

pytestmark = pytest.mark.integration

MIN_REQUESTS = 1000
# Test cases per operation and phase; with the 12 operations this gives about 1,300 requests.
MAX_EXAMPLES = 60
RUN_TIMEOUT = 110


@pytest.fixture(scope="module")
def fuzz_proxy() -> Iterator[Proxy]:
    """A proxy on a livekit-server of its own (the fuzz opens hundreds of rooms), expecting an
    agent name no worker has and a worker health URL nobody answers: every dispatch is
    accepted by the real server, and no agent is ever launched."""
    server = start_livekit_server(choose_runtime())
    proxy = Proxy(server, "fuzz-agent", f"http://127.0.0.1:{free_port()}")
    try:
        proxy.wait_ready()
        yield proxy
    finally:
        proxy.stop()
        server.stop()


def test_generated_requests_pass_every_schemathesis_check(
    fuzz_proxy: Proxy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """≥ 1,000 requests generated from /openapi.json: no 5xx, no failure of any check."""
    har = tmp_path / "requests.har.json"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SCHEMATHESIS_HOOKS": "tests.proxy.schemathesis_hooks",
    }
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--no-color",
            "run",
            f"{fuzz_proxy.url}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--report",
            "har",
            "--report-har-path",
            str(har),
        ],
        cwd=tmp_path,  # its .hypothesis and .schemathesis state stays out of the repository
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    entries = json.loads(har.read_text())["log"]["entries"] if har.exists() else []
    statuses = Counter(e["response"]["status"] for e in entries)
    with capsys.disabled():
        print(f"\nschemathesis: {len(entries)} requests, statuses {dict(sorted(statuses.items()))}")
    report = f"{run.stdout[-6000:]}\n{run.stderr[-2000:]}"
    assert run.returncode == 0, f"schemathesis found failures:\n{report}"
    assert len(entries) >= MIN_REQUESTS, f"only {len(entries)} requests:\n{report}"
    assert not [s for s in statuses if s >= 500], f"server errors {statuses}:\n{report}"
    assert "Traceback" not in fuzz_proxy.output, fuzz_proxy.output[-3000:]
