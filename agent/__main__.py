"""`python -m agent`: the stack's worker, through livekit-agents' current interface
(`python -m livekit.agents start <file> --dev`), after its settings are checked and
livekit-server answers. `--prod` runs it with production defaults instead of dev ones
(livekit-agents then marks the worker full at load 0.7). With AGENT_FILE set, your own
worker file runs instead, the same way (agent/user_file.py); with AGENT_DIR, your own
project, in its own environment (agent/project.py)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from agent import user_file
from agent.inference import use_inference
from agent.user_launch import Launch
from devstack.livekit import wait_for_server
from devstack.settings import Settings, SettingsError, load_settings
from devstack.state import WORKERS, copy_index, process_name, write_state

WORKER_FILE = Path(__file__).resolve().parent / "worker.py"
EXPORT_TIMEOUT_SECONDS = 2


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m agent", description=__doc__)
    parser.add_argument("--prod", action="store_true", help="production defaults, not dev ones")
    parser.add_argument("--log-level", default="info", help="debug, info, warning, error")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        uploads_to = upload_sessions_to_stack(settings)
        use_inference(settings)
        settings = pool_settings(settings, uploads_to)
        if not (settings.agent_file or settings.agent_dir):
            settings.require_openai()  # only the built-in worker runs the OpenAI pipeline
    except SettingsError as exc:
        sys.exit(f"agent: {exc}")
    if settings.agent_dir:
        from agent.run_project import run_project

        run_project(settings, prod=args.prod, log_level=args.log_level)
        return
    if settings.agent_file:
        run_user_file(settings.agent_file, settings, prod=args.prod, log_level=args.log_level)
        return
    wait_for_server(settings.livekit_url)

    from livekit.agents.__main__ import main as livekit_agents_main

    command = ["start", str(WORKER_FILE), "--log-level", args.log_level.upper()]
    command += ["--log-format", "colored"] if args.prod else ["--dev"]
    sys.exit(livekit_agents_main(command))


def upload_sessions_to_stack(settings: Settings) -> str | None:
    """Agent Insights offline: livekit-agents uploads each recorded session to
    LIVEKIT_OBSERVABILITY_URL (job.py, _observability_url), here the proxy. Set in the
    environment, so the job processes and an AGENT_DIR project's worker inherit it; one the
    shell already sets (your own collector) is kept. Returns where sessions go. (Nothing is
    printed here: a file that cannot run must fail with one line; the proxy says where
    sessions are when it starts.)"""
    if not settings.insights:
        return None
    url = os.environ.setdefault("LIVEKIT_OBSERVABILITY_URL", settings.observability_url)
    if url == settings.observability_url:
        # An export to the proxy takes milliseconds; one that fails (the proxy restarting)
        # must not hold a stopping job for OpenTelemetry's default 10 s of retries. (It also
        # bounds the user's own OTLP exporters that set no timeout of their own.)
        os.environ.setdefault("OTEL_EXPORTER_OTLP_TIMEOUT", str(EXPORT_TIMEOUT_SECONDS))
    return url


def pool_settings(settings: Settings, uploads_to: str | None = None) -> Settings:
    """Copy N of a pool (`honcho start -c agent=N` names them agent.1, agent.2, ...) serves
    its health on AGENT_HTTP_PORT + N - 1, and says where in DEVSTACK_STATE_DIR/workers/, so
    the proxy and the doctor find every copy."""
    name = process_name(f"agent-{os.getpid()}")
    offset = copy_index(name) - 1
    if offset:
        # Set in the environment: the worker module and its job processes read it again.
        os.environ["AGENT_HTTP_PORT"] = str(settings.agent_http_port + offset)
        settings = load_settings()
    write_state(
        settings.state_dir,
        WORKERS,
        name,
        {
            "owner_pid": os.getpid(),
            "health_url": settings.agent_listen_url,
            "agent_file": settings.agent_file,
            # The proxy it uploads sessions to waits for it to stop (proxy/__main__.py).
            "uploads_to": uploads_to,
        },
    )
    return settings


def launch_of(settings: Settings, shown_path: str, *, prod: bool, log_level: str) -> Launch:
    """What the agent runner needs of the stack's settings (it cannot import them)."""
    return Launch(
        shown_path=shown_path,
        url=settings.livekit_url,
        api_key=settings.livekit_api_key,
        api_secret=settings.livekit_api_secret,
        agent_name=settings.livekit_agent_name,
        http_host=settings.agent_http_host,
        http_port=settings.agent_http_port,
        idle_processes=settings.idle_processes,
        load_threshold=settings.agent_load_threshold,
        dev=not prod,
        log_level=log_level,
    )


def run_user_file(agent_file: str, settings: Settings, *, prod: bool, log_level: str) -> None:
    """AGENT_FILE's worker instead of ours, in this Python; any reason it cannot run is
    one line."""
    try:
        user_file.check_agent_file(agent_file)  # a wrong path fails before any wait
        wait_for_server(settings.livekit_url)
        launch = launch_of(settings, agent_file, prod=prod, log_level=log_level)
        user_file.run_agent_file(agent_file, launch)
    except user_file.AgentFileError as exc:
        sys.exit(f"agent: {exc}")


if __name__ == "__main__":
    main()
