"""AGENT_DIR: the user's agent project, run as it is, in its own environment.

A project is found by what it holds: a `pyproject.toml` with a `[project]` table is a uv
project (synced with uv, as `uv run` would), else an existing `.venv` is used as it is,
else a `requirements.txt` gets a venv in the stack's cache keyed by the file's contents.
The stack never installs its own livekit-agents into it: the project's version runs
(agent/user_file.py, the one runner, is executed by the project's Python). Its model files
are fetched once per lock by agent/download_files.py; agent/run_project.py runs the steps."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from dotenv import dotenv_values

from agent.inference import STACK_OWNED, route_project_inference
from devstack.settings import Settings

Kind = Literal["uv", "venv", "requirements"]
# Where the templates put the agent (agent-starter-python: src/agent.py; LiveKit's docs:
# agent.py), tried in this order when AGENT_FILE names none.
LAYOUTS = ("src/agent.py", "agent.py")
# The project's own env files, later wins: what `load_dotenv(".env.local")` reads.
ENV_FILES = (".env", ".env.local")
# Set by the stack, whatever the project's env says: rooms and dispatch stay local.

OLDEST_SUPPORTED = (1, 2)
JWT_MIN_KEY_BYTES = 32  # PyJWT's InsecureKeyLengthWarning below this, for HS256
# The stack's Python environment must not leak into the project's.
NOT_INHERITED = ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH", "UV_PROJECT_ENVIRONMENT")
RUNNER = Path(__file__).resolve().parent / "user_file.py"
COMPLETE = ".devstack-complete"  # the marker of a requirements venv built to its end


class ProjectError(Exception):
    """The project cannot be run; the message is one line naming AGENT_DIR."""


def say(message: str) -> None:
    print(f"[agent] {message}", file=sys.stderr, flush=True)


@dataclass
class Project:
    root: Path
    kind: Kind
    agent_file: Path
    shown_file: str  # as the user reads it: relative to the project
    digest: str  # of what decides the environment (the lock, or requirements.txt)

    @property
    def add_packages(self) -> str:
        """How a package is added to this project, for the fix of a missing plugin."""
        return {
            "uv": "uv add {packages} (in " + str(self.root) + ")",
            "venv": f"{self.root}/.venv/bin/pip install {{packages}}",
            "requirements": "add {packages} to requirements.txt (its venv is rebuilt)",
        }[self.kind]


@dataclass
class Prepared:
    """What `python -m agent` found and did, kept in the state dir for /api/health and
    the doctor."""

    root: str
    kind: str
    agent_file: str
    python: str
    livekit_agents: str
    seconds_to_ready: float
    # download-files: None when it did not run for this lock; else ok and the failures.
    download_files_ok: bool | None = None
    download_failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _has_project_table(pyproject: Path) -> bool:
    try:
        return "project" in tomllib.loads(pyproject.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return False


def _digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        if p.is_file():
            h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:16]


def find_project(dir_text: str, agent_file: str | None) -> Project:
    """The project AGENT_DIR names, its kind and its agent file."""
    root = Path(dir_text).expanduser()
    if not root.is_dir():
        raise ProjectError(f"AGENT_DIR={dir_text!r}: no such folder (relative to {Path.cwd()})")
    root = root.resolve()
    pyproject, requirements = root / "pyproject.toml", root / "requirements.txt"
    kind: Kind
    if pyproject.is_file() and _has_project_table(pyproject):
        kind, digest = "uv", _digest(pyproject, root / "uv.lock")
    elif (root / ".venv" / "bin" / "python").exists():
        kind, digest = "venv", _digest(requirements, pyproject)
    elif requirements.is_file():
        kind, digest = "requirements", _digest(requirements)
    else:
        raise ProjectError(
            f"AGENT_DIR={dir_text!r} has no pyproject.toml with a [project] table, no .venv and "
            "no requirements.txt: the stack cannot tell which environment your agent needs"
        )
    candidates = [agent_file] if agent_file else list(LAYOUTS)
    for candidate in candidates:
        path = Path(candidate)
        path = path if path.is_absolute() else root / path
        if path.is_file():
            shown = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
            return Project(root, kind, path.resolve(), shown, digest)
    if agent_file:
        raise ProjectError(f"AGENT_FILE={agent_file!r}: no such file in AGENT_DIR={str(root)!r}")
    raise ProjectError(
        f"AGENT_DIR={dir_text!r}: no agent file at {' or '.join(LAYOUTS)}; "
        "name yours with AGENT_FILE (relative to the project)"
    )


def find_uv(cache: Path) -> str:
    """The uv that scripts/setup installs (pinned) in the stack's cache, else one on PATH."""
    pinned = sorted(cache.glob("uv-*/bin/uv"))
    if pinned:
        return str(pinned[-1])
    found = shutil.which("uv")
    if not found:
        raise ProjectError("AGENT_DIR needs uv for a uv project: run `make setup` first")
    return found


def clean_env() -> dict[str, str]:
    """This process's environment for a command run in the project, less NOT_INHERITED."""
    return {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}


def _run_step(command: list[str], cwd: Path, what: str) -> None:
    """One preparation step; its own output goes to the terminal, a failure is one line."""
    say(f"{what}: {' '.join(command)}")
    done = subprocess.run(
        command, cwd=cwd, env=clean_env(), stdout=sys.stderr, stderr=sys.stderr, check=False
    )
    if done.returncode != 0:
        raise ProjectError(
            f"AGENT_DIR={str(cwd)!r}: {what} failed (exit {done.returncode}), see above"
        )


def prepare_environment(project: Project, cache: Path) -> Path:
    """The project's Python, its environment synced or built first where the kind says."""
    if project.kind == "venv":
        return project.root / ".venv" / "bin" / "python"
    uv = find_uv(cache)
    if project.kind == "uv":
        # As `uv run` does before running: the lock is honoured (and updated if the
        # project's dependencies changed), and what the user installed by hand stays.
        # UV_PROJECT_ENVIRONMENT is not passed on (clean_env): the project's .venv it is.
        _run_step(
            [uv, "sync", "--inexact", "--quiet"], project.root, "syncing the project's environment"
        )
        return project.root / ".venv" / "bin" / "python"
    venv = cache / "venvs" / project.digest
    (cache / "venvs").mkdir(parents=True, exist_ok=True)
    # Two workers of a pool may start at once: one builds, the other waits for it.
    with (cache / "venvs" / f".{project.digest}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / COMPLETE).exists():
            # Built in place (its scripts name their own path) and marked complete last: a
            # build cut short is no venv, and the next start builds it again from scratch.
            shutil.rmtree(venv, ignore_errors=True)
            _run_step([uv, "venv", "--quiet", str(venv)], project.root, "creating a venv")
            _run_step(
                [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
                 "-r", "requirements.txt"],
                project.root,
                "installing requirements.txt",
            )  # fmt: skip
            (venv / COMPLETE).write_text(project.digest)
    return venv / "bin" / "python"


def installed_livekit_agents(python: Path) -> str:
    """The project's livekit-agents version, read without importing it (fast)."""
    done = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('livekit-agents'))"],
        env=clean_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    version = done.stdout.strip()
    if done.returncode != 0 or not version:
        raise ProjectError(
            f"the project's environment ({python}) has no livekit-agents: add it to the project"
        )
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if parts < OLDEST_SUPPORTED:
        raise ProjectError(
            f"the project runs livekit-agents {version}; the stack runs 1.2 and later: upgrade it"
        )
    return version


def project_environment(project: Project, settings: Settings) -> tuple[dict[str, str], list[str]]:
    """The worker's environment: the project's env files, with the stack's server and keys
    winning, and a Cloud project's credentials kept for LiveKit Inference. Returns the
    environment and what the log should say about it (never a secret)."""
    own: dict[str, str] = {}
    for name in ENV_FILES:
        path = project.root / name
        if path.is_file():
            own.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    env = {**clean_env(), **own}
    notes = []
    theirs = {k: own[k] for k in STACK_OWNED if own.get(k)}
    if theirs:
        notes.append(
            f"the project's env sets {', '.join(theirs)}: the local server ({settings.livekit_url}) "
            "and its keys win, so rooms and dispatch stay on this stack"
        )
    notes.append(route_project_inference(env, own, settings))
    env.update(
        LIVEKIT_URL=settings.livekit_url,
        LIVEKIT_API_KEY=settings.livekit_api_key,
        LIVEKIT_API_SECRET=settings.livekit_api_secret,
        PYTHONUNBUFFERED="1",
    )
    if upload := os.environ.get("LIVEKIT_OBSERVABILITY_URL"):
        # Sessions go where the stack's do (agent/__main__.py), not to a Cloud project's.
        env["LIVEKIT_OBSERVABILITY_URL"] = upload
    if len(settings.livekit_api_secret) < JWT_MIN_KEY_BYTES:
        # livekit-server --dev's own secret is short on purpose; PyJWT would warn about it
        # in every job the project runs, as the stack's own processes do not (settings.py).
        quiet = "ignore:::jwt.api_jwt"
        env["PYTHONWARNINGS"] = ",".join(filter(None, (env.get("PYTHONWARNINGS"), quiet)))
    return env, notes
