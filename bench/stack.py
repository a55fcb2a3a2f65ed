"""The stack under test: one the benchmark starts itself (the same launchers the tests
use: a real livekit-server and real worker processes), or the one `make dev` runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psutil

from devstack.local_server import LiveKitServer, choose_runtime, start_livekit_server
from devstack.processes import AgentWorker
from devstack.settings import http_url, load_settings

BENCH_AGENT = "bench-agent"


@dataclass
class Stack:
    url: str
    api_key: str
    api_secret: str
    server_pid: int | None
    server: LiveKitServer | None = None  # set when the benchmark owns the server

    @property
    def http_url(self) -> str:
        return http_url(self.url)


@contextmanager
def own_server() -> Iterator[Stack]:
    server = start_livekit_server(choose_runtime())
    try:
        yield Stack(server.url, server.api_key, server.api_secret, server.pid, server)
    finally:
        server.stop()


def running_stack() -> Stack:
    """The `make dev` stack, as configured in .env; the server process is found by name."""
    settings = load_settings()
    pid = next(
        (
            p.pid
            for p in psutil.process_iter(["name"])
            if (p.info["name"] or "").startswith("livekit-server")
        ),
        None,
    )
    return Stack(settings.livekit_url, settings.livekit_api_key, settings.livekit_api_secret, pid)


@contextmanager
def worker(
    stack: Stack, agent_name: str, idle_processes: int, executor: str, command: str = "dev"
) -> Iterator[AgentWorker]:
    """A registered worker for the benchmark's own server."""
    assert stack.server is not None, "workers are started only for a server the benchmark owns"
    env = {"AGENT_IDLE_PROCESSES": str(idle_processes), "AGENT_JOB_EXECUTOR": executor}
    args = ["--prod"] if command == "start" else []
    w = AgentWorker(stack.server, agent_name, *args, **env)
    try:
        w.wait_registered(timeout=90)
        yield w
    finally:
        w.stop()
