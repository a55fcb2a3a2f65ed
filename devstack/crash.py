"""Why a process of the stack exited, in one line and its fix: read from the last lines it
printed, for the supervisor's state, /api/health, the debug page and the doctor."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# What separates an error from its fix in the one line the agent runner prints when it
# cannot start (agent/crash_lines.py FIX_SEPARATOR, which cannot import this module).
FIX_SEPARATOR = "; fix: "
MODEL_FILES_FIX = (
    "Run the project's `python -m livekit.agents download-files` once online (the stack runs "
    "it before the first start and when the lock changes); the files are cached after that."
)
EDIT_FIX = "Fix the error in your agent and save: the stack restarts the worker when a file of the project changes."
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# A line that says why: the runner's own one-liners first, then a Python exception.
# (The runner's and the settings' one-liners only: an agent may print "agent: ..." itself.)
OWN_LINE = re.compile(
    r"^(agent|supervisor|proxy): ([A-Z][A-Z_]+=|your agent |the project|livekit-agents )"
)
EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt))(: .*)?$")
MISSING_MODULE = re.compile(r"No module named '(livekit\.plugins\.\w+)")
MISSING_NAME = re.compile(r"cannot import name '(\w+)' from 'livekit\.plugins'")
MISSING_ANY = re.compile(r"No module named '([\w.]+)'")


def plain(line: str) -> str:
    """A log line without its terminal colours."""
    return ANSI.sub("", line).rstrip()


@dataclass(frozen=True)
class Reason:
    error: str
    fix: str


# The same rule as agent/crash_lines.plugin_package: that runner runs in the project's own
# Python and can import nothing of the stack, so it keeps its own copy.
def plugin_package(module: str) -> str:
    """`livekit.plugins.ai_coustics` -> `livekit-plugins-ai-coustics`, as LiveKit names them."""
    return "livekit-plugins-" + module.split(".")[2].replace("_", "-")


def reason_of(lines: list[str]) -> Reason | None:
    """Why a process exited, from the last lines it printed: the newest line that says so
    (the runner's `agent: ...` line, else a Python exception's last line)."""
    tail = [plain(line) for line in lines[-200:] if line.strip()]
    found = next((line for line in reversed(tail) if OWN_LINE.match(line)), None)
    if found is None:
        found = next((line for line in reversed(tail) if EXCEPTION_LINE.match(line)), None)
    if found is None:
        return None
    error, _, fix = found.partition(FIX_SEPARATOR)
    return Reason(error.strip(), fix.strip() or fix_for(error))


def fix_for(error: str) -> str:
    """The fix for an error line that does not carry its own."""
    module = MISSING_MODULE.search(error)
    name = MISSING_NAME.search(error)
    if module or name:
        wanted = module.group(1) if module else f"livekit.plugins.{name.group(1)}"  # type: ignore[union-attr]
        return f"Add {plugin_package(wanted)} to the project's dependencies, then save: the worker restarts."
    if other := MISSING_ANY.search(error):
        top = other.group(1).split(".")[0]
        return f"Add the package that provides `{top}` to the project's dependencies, then save: the worker restarts."
    return EDIT_FIX


def agent_crash(processes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The agent process the supervisor cannot keep up, with why and the fix: crash-looping
    (waiting for a change), else restarting after an exit it has a reason for."""
    failing = [
        p
        for p in processes
        if p["name"].startswith("agent")
        and p.get("state") in ("crash-looping", "restarting")
        and p.get("last_error")
    ]
    failing.sort(key=lambda p: p["state"] != "crash-looping")
    if not failing:
        return None
    p = failing[0]
    return {
        "name": p["name"],
        "state": p["state"],
        "error": p["last_error"],
        "fix": p.get("fix", ""),
        "restarts": p.get("restarts", 0),
        "watching": p.get("watching"),
    }
