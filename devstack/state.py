"""Runtime state shared through files in DEVSTACK_STATE_DIR: the supervisor's view of each
process (running, restarting) and each worker's health URL, so the proxy and the doctor
find every worker of a pool and can say "worker restarting"."""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path
from typing import Any

PROCESSES = "processes"
WORKERS = "workers"
PROJECTS = "projects"  # AGENT_DIR: what `python -m agent` found and prepared


def process_name(default: str) -> str:
    """honcho names each copy of a process type ("agent.1", "agent.2")."""
    return os.environ.get("HONCHO_PROCESS_NAME") or default


def copy_index(name: str) -> int:
    """1 for "agent.1" or a plain name, N for "agent.N": the copy's place in a pool."""
    match = re.fullmatch(r".+\.(\d+)", name)
    return int(match.group(1)) if match else 1


def write_state(state_dir: Path, kind: str, name: str, data: dict[str, Any]) -> None:
    """Atomically replace the state file of `name`: readers never see half of it."""
    folder = state_dir / kind
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.json.tmp"
    tmp.write_text(json.dumps({"name": name, **data}))
    tmp.replace(folder / f"{name}.json")


def remove_state(state_dir: Path, kind: str, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        (state_dir / kind / f"{name}.json").unlink()


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_states(state_dir: Path, kind: str, *, live_only: bool = True) -> list[dict[str, Any]]:
    """Every state file of `kind`, sorted by name; with live_only, those whose owner (the
    `owner_pid` field) still runs: a process killed with -9 cannot remove its own file."""
    folder = state_dir / kind
    out = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # being replaced right now, or not ours
        if not live_only or _alive(data.get("owner_pid")):
            out.append(data)
    return out
