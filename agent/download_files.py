"""An AGENT_DIR project's model files (the turn detector's, ...): livekit-agents' own
download-files step, run once per lock of the project, offline-aware (agent/model_hub.py).
A failure is one line that says what will break and how to try again; the worker still
starts."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from pathlib import Path

from agent.model_hub import offline_env
from agent.project import Project, clean_env, say
from devstack.crash import MODEL_FILES_FIX

DOWNLOAD_TIMEOUT = 600.0


def _download_command(python: Path, project: Project) -> list[str]:
    """livekit-agents' own download step: `python -m livekit.agents download-files` where it
    has that thin interface (1.8), else the agent file's CLI command of the same name."""
    probe = (
        "import importlib.util, pathlib; s = importlib.util.find_spec('livekit.agents'); "
        "print('download-files' in (pathlib.Path(s.origin).parent / '__main__.py').read_text() "
        "if (pathlib.Path(s.origin).parent / '__main__.py').exists() else False)"
    )
    done = subprocess.run(
        [str(python), "-c", probe], env=clean_env(), capture_output=True, text=True, check=False
    )
    if done.stdout.strip() == "True":
        return [str(python), "-m", "livekit.agents", "download-files"]
    return [str(python), str(project.agent_file), "download-files"]


def download_files(
    project: Project, python: Path, env: dict[str, str], cache: Path
) -> tuple[bool | None, list[str]]:
    """Run the project's download-files once per lock (its model files: the turn detector,
    ...). A failure (offline) is said in one line; the worker still starts. Returns
    (ok, failures), ok None when this lock's earlier result was reused."""
    stamp = (
        cache
        / "download-files"
        / f"{hashlib.sha256(str(project.root).encode()).hexdigest()[:16]}.json"
    )
    with_lock = project.digest
    try:
        earlier = json.loads(stamp.read_text())
    except (OSError, ValueError):
        earlier = {}
    if earlier.get("digest") == with_lock:
        failures = list(earlier.get("failures", []))
        if failures:
            _say_download_failed(failures, again=True, stamp=stamp)
        return bool(earlier.get("ok")), failures
    command = _download_command(python, project)
    say("downloading the plugins' model files once for this lock: " + " ".join(command[1:]))
    env, offline = offline_env(env)
    if offline:
        say(offline)
    started = time.monotonic()
    try:
        done = subprocess.run(
            command, cwd=project.root, env=env, capture_output=True, text=True,
            timeout=DOWNLOAD_TIMEOUT, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        failures = [f"exit -: no answer in {DOWNLOAD_TIMEOUT:.0f} s (a hub that hangs?)"]
        _say_download_failed(failures, again=False, stamp=stamp)
        _write_stamp(stamp, with_lock, False, failures)
        return False, failures
    output = done.stdout + done.stderr
    failures = [
        line.split("failed downloading files for ", 1)[1].strip()
        for line in output.splitlines()
        if "failed downloading files for " in line
    ]
    failures = list(dict.fromkeys(failures))  # livekit-agents may log each twice
    ok = done.returncode == 0 and not failures
    if not ok and not failures:
        failures = [
            f"exit {done.returncode}: {output.strip().splitlines()[-1] if output.strip() else ''}"
        ]
    if ok:
        say(f"model files ready ({time.monotonic() - started:.1f} s)")
    else:
        _say_download_failed(failures, again=False, stamp=stamp)
    _write_stamp(stamp, with_lock, ok, failures)
    return ok, failures


def _write_stamp(stamp: Path, digest: str, ok: bool, failures: list[str]) -> None:
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps({"digest": digest, "ok": ok, "failures": failures}))


def _say_download_failed(failures: list[str], *, again: bool, stamp: Path) -> None:
    """One line: what failed, what will break, and how to try again before the lock changes."""
    when = " (this lock's earlier try)" if again else ""
    retry = f"it runs again when the lock changes, or now once you delete {stamp}"
    what, _, why = failures[0].partition(": ")
    if what.startswith("exit "):  # livekit-agents' own step failed, no plugin named
        say(f"warning: download-files failed{when}: {failures[0][:200]}; {retry}")
        return
    say(
        f"warning: download-files failed{when} for {what}: {why[:160]}; a job that loads "
        f"its model files will crash at start (model_files_missing); {retry}. {MODEL_FILES_FIX}"
    )
