"""Start the worker a user's agent file defined (an AgentServer, or WorkerOptions) the
stack's way: through livekit-agents' thin `start` path where it has one, else (1.2 to 1.5)
through its own run_app with `start`, with the stack's settings applied, Cloud-only
plugins noted once, and one line saying what runs.

Imported by agent/user_file.py, and so, like it, it imports only the standard library and
livekit-agents (it runs in the project's own Python for AGENT_DIR)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if __package__:  # imported as agent.user_worker, in the stack's venv
    from agent import job_records
    from agent.server_options import (
        apply_stack_settings,
        dev_on_production_start,
        jobs_share_process,
        thin_start,
    )
else:  # imported by agent/user_file.py run as a script, its siblings beside it
    import job_records  # type: ignore[no-redef]
    from server_options import (  # type: ignore[no-redef]
        apply_stack_settings,
        dev_on_production_start,
        jobs_share_process,
        thin_start,
    )

if TYPE_CHECKING:
    from agent.user_launch import Launch

logger = logging.getLogger("devstack.agent")
# Holds only devstack_offline_plugins, which job processes import by that name.
JOB_PATH = str(Path(__file__).resolve().parent / "job_path")


def livekit_agents_version() -> str:
    from livekit.agents import __version__

    return str(__version__)


def start_worker(
    server: Any, original_run_app: Callable[..., None], launch: Launch, style: str = ""
) -> None:
    """Run `server` (an AgentServer or WorkerOptions) through livekit-agents' thin `start`
    path where it has one, else through its own run_app with `start`."""
    launch.started = True
    if jobs_share_process(server):
        job_records.stamp_records_with_their_job()
    _note_cloud_only_plugins(server)
    run_worker = thin_start()
    try:
        from livekit.agents import AgentServer
    except ImportError:
        AgentServer = None  # noqa: N806 - a class, as livekit-agents names it
    is_server = AgentServer is not None and isinstance(server, AgentServer)
    style = style or (
        "AgentServer style, run by cli.run_app" if is_server else "WorkerOptions style"
    )
    if run_worker is not None and AgentServer is not None:
        if not is_server:
            server = AgentServer.from_server_options(server)
        apply_stack_settings(server, launch)
        agent_name = str(server._agent_name)  # no public accessor; set by rtc_session
        server.once("worker_started", lambda: _say_what_runs(launch, style, agent_name))
        from livekit.agents.cli import proto

        args = proto.CliArgs(
            log_level=launch.log_level.upper(),
            url=launch.url,
            api_key=launch.api_key,
            api_secret=launch.api_secret,
            log_format="colored",  # as the built-in worker: readable lines in honcho
            dev=launch.dev,
        )
        run_worker(server, args)
        return
    # An older livekit-agents: its own CLI, `start` (it has no `--dev` flag there; `dev`
    # would add its own file watcher on top of the supervisor's).
    apply_stack_settings(server, launch)
    dev_on_production_start(server, launch)
    agent_name = str(getattr(server, "agent_name", "") or getattr(server, "_agent_name", ""))
    _say_what_runs(launch, style, agent_name, to_stderr=True)
    sys.argv = [sys.argv[0], "start", "--log-level", launch.log_level.upper()]
    original_run_app(server)


def _note_cloud_only_plugins(server: Any) -> None:
    """LiveKit Cloud's noise cancellation offline is one WARNING per plugin, not an ERROR
    (job_path/devstack_offline_plugins.py): in this process, and, with the worker's setup
    function, in each job process. The folder goes last on sys.path (job processes inherit
    it): it holds that one module, so it shadows nothing of the project."""
    if JOB_PATH not in sys.path:
        sys.path.append(JOB_PATH)
    import devstack_offline_plugins as notes

    notes.install()
    # An AgentServer's setup_fnc has no public getter in every version; a WorkerOptions'
    # prewarm_fnc is public.
    for name in ("_setup_fnc", "prewarm_fnc"):
        if hasattr(server, name):
            setattr(server, name, notes.with_cloud_notes(getattr(server, name)))
            return


def _say_what_runs(launch: Launch, style: str, agent_name: str, *, to_stderr: bool = False) -> None:
    """Which file, as which agent, in which Python with which livekit-agents."""
    lines = [
        f"running your agent file {launch.shown_path} ({style}) as agent_name={agent_name!r}, "
        f"health on {launch.health_url}; python {sys.executable}, "
        f"livekit-agents {livekit_agents_version()}"
    ]
    if agent_name != launch.agent_name:
        lines.append(
            f"your agent file registers agent_name={agent_name!r} but "
            f"LIVEKIT_AGENT_NAME={launch.agent_name!r}: the proxy and the doctor dispatch your "
            "file's name when none is given, but a client that names LIVEKIT_AGENT_NAME finds "
            f"no worker; set LIVEKIT_AGENT_NAME={agent_name}"
        )
    for i, line in enumerate(lines):
        if to_stderr:  # logging is not set up yet on this path
            print(f"[agent] {line}", file=sys.stderr, flush=True)
        else:
            (logger.info if i == 0 else logger.warning)(line)
