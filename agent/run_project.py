"""`AGENT_DIR=path make dev`: prepare the user's agent project and run its worker in the
project's own Python, through the one runner (agent/user_file.py, as a script).

The steps, each one line in the log: find the project and its agent file, sync or build
its environment, read its livekit-agents version, build the worker's environment (the
project's env files, the stack's server and keys winning), run download-files once per
lock, then replace this process with the runner, so the supervisor's signals reach the
worker itself."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

from agent.download_files import download_files
from agent.project import (
    RUNNER,
    Prepared,
    Project,
    ProjectError,
    find_project,
    installed_livekit_agents,
    prepare_environment,
    project_environment,
    say,
)
from devstack.livekit import wait_for_server
from devstack.settings import Settings
from devstack.state import PROJECTS, process_name, write_state


def run_project(settings: Settings, *, prod: bool, log_level: str) -> None:
    """Prepare, then exec the worker; any reason it cannot start is one line."""
    started = time.monotonic()
    try:
        assert settings.agent_dir is not None
        project = find_project(settings.agent_dir, settings.agent_file)
        say(f"your agent project {project.root} ({project.kind}), agent file {project.shown_file}")
        python = prepare_environment(project, settings.cache_dir)
        version = installed_livekit_agents(python)
        env, notes = project_environment(project, settings)
        for note in notes:
            say(note)
        ok, failures = download_files(project, python, env, settings.cache_dir)
    except ProjectError as exc:
        sys.exit(f"agent: {exc}")
    prepared = Prepared(
        root=str(project.root),
        kind=project.kind,
        agent_file=project.shown_file,
        python=str(python),
        livekit_agents=version,
        seconds_to_ready=round(time.monotonic() - started, 2),
        download_files_ok=ok,
        download_failures=failures,
        notes=notes,
    )
    write_state(
        settings.state_dir,
        PROJECTS,
        process_name("agent"),
        {"owner_pid": os.getpid(), **asdict(prepared)},
    )
    say(
        f"environment ready in {prepared.seconds_to_ready:.1f} s: python {python}, "
        f"livekit-agents {version}"
    )
    wait_for_server(settings.livekit_url)
    env.update(runner_environment(settings, project, prod=prod, log_level=log_level))
    os.chdir(project.root)  # its own .env.local and relative paths work
    os.execve(str(python), [str(python), str(RUNNER), str(project.agent_file)], env)


def runner_environment(
    settings: Settings, project: Project, *, prod: bool, log_level: str
) -> dict[str, str]:
    """The stack's resolved settings for the runner, which cannot import them."""
    idle = settings.idle_processes
    threshold = settings.agent_load_threshold
    return {
        "LIVEKIT_AGENT_NAME": settings.livekit_agent_name,
        "DEVSTACK_RUN_HTTP_HOST": settings.agent_http_host,
        "DEVSTACK_RUN_HTTP_PORT": str(settings.agent_http_port),
        "DEVSTACK_RUN_IDLE_PROCESSES": str(idle),
        "DEVSTACK_RUN_LOAD_THRESHOLD": "" if threshold is None else str(threshold),
        "DEVSTACK_RUN_DEV": "0" if prod else "1",
        "DEVSTACK_RUN_LOG_LEVEL": log_level,
        "DEVSTACK_RUN_LABEL": "AGENT_DIR",
        "DEVSTACK_RUN_ADD_PACKAGES": project.add_packages,
        "DEVSTACK_RUN_SHOWN": str(Path(project.shown_file)),
    }
