"""Run `devstack doctor` as a user would, and (with DEVSTACK_RECORD_FACTS=dir) keep the
evidence of each verdict, which is how tests/doctor/facts/ was recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from devstack.local_server import LiveKitServer
from devstack.processes import ROOT


def doctor(
    server: LiveKitServer, *args: str, human: bool = False, env: dict[str, str] | None = None
) -> tuple[int, Any]:
    """`devstack doctor` against `server`; returns (exit code, parsed JSON or text)."""
    cmd = [
        sys.executable, "-m", "doctor.cli", "doctor",
        "--url", server.url, "--api-key", server.api_key, "--api-secret", server.api_secret,
        *args,
    ]  # fmt: skip
    if not human:
        cmd.append("--json")
    done = subprocess.run(
        cmd,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        env={**os.environ, "DEVSTACK_ENV_FILE": "", **(env or {})},
    )
    assert "Traceback" not in done.stderr, done.stderr
    if human:
        return done.returncode, done.stdout
    result = json.loads(done.stdout)
    if record := os.environ.get("DEVSTACK_RECORD_FACTS"):
        Path(record).mkdir(parents=True, exist_ok=True)
        facts = {"load_threshold": _flag(args, "--load-threshold"), "evidence": result["evidence"]}
        (Path(record) / f"{result['cause']}.json").write_text(json.dumps(facts, indent=2) + "\n")
    return done.returncode, result


def stack_state_env(server: LiveKitServer) -> dict[str, str]:
    """Run the doctor as the stack's own: on its server (LIVEKIT_URL) it reads the stack's
    state dir, where the supervisor's states and the worker logs are; with the test workers'
    Inference setting (off, devstack/processes.py AgentWorker)."""
    assert server.log_path is not None
    return {
        "LIVEKIT_URL": server.url,
        "DEVSTACK_STATE_DIR": str(server.log_path.parent),
        "DEVSTACK_INFERENCE": "off",
    }


def _flag(args: tuple[str, ...], name: str) -> float | None:
    return float(args[args.index(name) + 1]) if name in args else None
