"""What the runner of a user's agent file is told: the stack's server, keys, agent name,
health port and pool settings, and how to name the file in an error line.

In the stack's venv, `python -m agent` builds a Launch from its settings; in a project's
own Python (AGENT_DIR) the runner cannot import them, so they arrive in DEVSTACK_RUN_*
variables (agent/run_project.py). Beside agent/user_file.py in the wheel, so it imports
only the standard library."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class Launch:
    """How the agent file runs: what the stack resolved, and livekit-agents' start args."""

    shown_path: str
    url: str
    api_key: str
    api_secret: str
    agent_name: str  # LIVEKIT_AGENT_NAME, for the warning when the file registers another
    http_host: str
    http_port: int
    idle_processes: int | None  # applied only where the file left livekit-agents' default
    load_threshold: float | None
    dev: bool
    log_level: str
    label: str = "AGENT_FILE"  # the variable named in error lines (AGENT_DIR for a project)
    add_packages: str = ""  # how to add a package to this project: "uv add {packages}"
    started: bool = False

    @property
    def health_url(self) -> str:
        host = "127.0.0.1" if self.http_host in ("", "0.0.0.0") else self.http_host
        return f"http://{host}:{self.http_port}"


def launch_from_environment(shown_path: str) -> Launch:
    """Script mode: what `python -m agent` resolved, passed in DEVSTACK_RUN_* variables."""
    env = os.environ

    def number(name: str) -> str | None:
        return env.get(name) or None

    idle, threshold = number("DEVSTACK_RUN_IDLE_PROCESSES"), number("DEVSTACK_RUN_LOAD_THRESHOLD")
    return Launch(
        shown_path=env.get("DEVSTACK_RUN_SHOWN") or shown_path,
        url=env["LIVEKIT_URL"],
        api_key=env["LIVEKIT_API_KEY"],
        api_secret=env["LIVEKIT_API_SECRET"],
        agent_name=env.get("LIVEKIT_AGENT_NAME", ""),
        http_host=env.get("DEVSTACK_RUN_HTTP_HOST", "127.0.0.1"),
        http_port=int(env.get("DEVSTACK_RUN_HTTP_PORT", "8081")),
        idle_processes=int(idle) if idle else None,
        load_threshold=float(threshold) if threshold else None,
        dev=env.get("DEVSTACK_RUN_DEV", "1") == "1",
        log_level=env.get("DEVSTACK_RUN_LOG_LEVEL", "info"),
        label=env.get("DEVSTACK_RUN_LABEL", "AGENT_DIR"),
        add_packages=env.get("DEVSTACK_RUN_ADD_PACKAGES", ""),
    )
