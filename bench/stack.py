"""The stack under test: one the benchmark starts itself (the same launchers the tests
use: a real livekit-server and real worker processes), or the one `make dev` runs."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.resources import wait_quiet
from devstack.local_server import LiveKitServer, choose_runtime, start_livekit_server
from devstack.processes import AgentWorker, Process, Proxy, base_env
from devstack.settings import http_url, load_settings
from devstack.waiting import free_port, wait_until_async
from devstack.worker_health import fetch_worker_status


def stop_on_sigterm() -> None:
    """A bench stopped with SIGTERM (`timeout`, CI) stops what it started: the processes it
    launches run in sessions of their own, so only its `finally` blocks reach them, and
    Python runs those for SystemExit but not for a default SIGTERM."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))


BENCH_AGENT = "bench-agent"
PLAIN_AGENT = "plain-agent"
PLAIN_AGENT_FILE = Path(__file__).resolve().parent / "plain_agent.py"
REGISTER_TIMEOUT = 90
IDLE_TIMEOUT = 60


@dataclass
class Stack:
    url: str
    api_key: str
    api_secret: str
    server_pid: int | None
    server: LiveKitServer | None = None  # set when the benchmark owns the server
    start_s: float = 0.0  # from launch until the server answered
    log_path: Path | None = None  # the server's log, when there is one to read
    # The stack's proxy: explicit dispatches go through its POST /api/dispatch-agent, the
    # path the debug page and a user's app take.
    proxy_url: str = ""

    @property
    def http_url(self) -> str:
        return http_url(self.url)


@dataclass
class Worker:
    pid: int
    start_s: float  # from launch until the server logged the worker registered
    health_url: str = ""  # the stack's worker only (the plain agent's port is random)

    def wait_idle(self, timeout: float = IDLE_TIMEOUT) -> float | None:
        """Until the worker runs no job and its process is quiet again: each burst starts
        from the same state, not while the previous burst's jobs are still shutting down.
        Its last job ended is not enough: each room is deleted under a connected agent, and
        the SDK's native threads (tokio-rt-worker) stay busy after the jobs have ended (its
        log: each agent's data channel "closed unexpectedly", connect retries, and hundreds
        of "dropping pass-through signal — no stream available"), for 3-8.5 CPU-seconds
        within 5-8 s after a burst of 50 here. Returns how long the worker took to be quiet
        once its jobs had ended (None: it was not within `timeout`)."""
        if self.health_url:
            self._wait_no_job(timeout)
        quiet = wait_quiet(self.pid, timeout)
        if quiet is None:
            print(
                f"bench: the worker was still busy {timeout:.0f} s after its jobs ended",
                file=sys.stderr,
            )
        return quiet

    def _wait_no_job(self, timeout: float) -> None:
        """Until the worker's health says it runs no job."""

        async def idle() -> bool:
            status = await fetch_worker_status(self.health_url)
            return status.reachable and status.active_jobs == 0

        what = "the worker's jobs to end"
        try:
            asyncio.run(wait_until_async(idle, timeout=timeout, what=what, interval=0.25))
        except TimeoutError:
            # Measured as it is: the next burst then meets jobs still shutting down.
            print(
                f"bench: the worker still runs jobs {timeout:.0f} s after its rooms ended",
                file=sys.stderr,
            )


@contextmanager
def own_server() -> Iterator[Stack]:
    """A livekit-server of the benchmark's own, and the stack's proxy in front of it (which
    gets its webhooks, as under `make dev`)."""
    started = time.perf_counter()
    proxy_port = free_port()
    webhook = f"http://127.0.0.1:{proxy_port}/api/webhooks/livekit"
    server = start_livekit_server(choose_runtime(), webhook_url=webhook)
    elapsed = time.perf_counter() - started
    proxy = Proxy(server, BENCH_AGENT, "http://127.0.0.1:9", port=proxy_port)
    try:
        proxy.wait_ready()
        yield Stack(
            server.url,
            server.api_key,
            server.api_secret,
            server.pid,
            server,
            start_s=elapsed,
            log_path=server.log_path,
            proxy_url=proxy.url,
        )
    finally:
        proxy.stop()
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
    log = settings.server_log_path  # scripts/livekit-server's, when it started the server
    return Stack(
        settings.livekit_url,
        settings.livekit_api_key,
        settings.livekit_api_secret,
        pid,
        log_path=log if log.exists() else None,
        proxy_url=settings.observability_url,  # the proxy's own address
    )


@contextmanager
def worker(stack: Stack, agent_name: str, *args: str, **env: str) -> Iterator[Worker]:
    """The stack's worker (`python -m agent`, with the settings' defaults unless `env` sets
    one), registered on the benchmark's own server."""
    assert stack.server is not None, "workers are started only for a server the benchmark owns"
    started = time.perf_counter()
    w = AgentWorker(stack.server, agent_name, *args, **env)
    try:
        w.wait_registered(timeout=REGISTER_TIMEOUT)
        yield Worker(w.pid, time.perf_counter() - started, w.health_url)
    finally:
        w.stop()


def start_plain_agent(server: LiveKitServer, *, announce: bool = False, port: int = 0) -> Process:
    """The seed-style baseline, `python bench/plain_agent.py dev` as the seeds run it, once
    livekit-agents logged it registered (stopped if it never does). With `announce` it sets
    one attribute right after connecting; its health server listens on `port` (0: any)."""
    env = base_env(server, PLAIN_AGENT_NAME=PLAIN_AGENT, PLAIN_AGENT_PORT=str(port))
    if announce:
        env["PLAIN_AGENT_ANNOUNCE"] = "1"
    w = Process("plain agent", [sys.executable, str(PLAIN_AGENT_FILE), "dev"], env)
    try:
        w.wait_for_line("registered worker", timeout=REGISTER_TIMEOUT)
    except BaseException:
        w.stop()
        raise
    return w


@contextmanager
def plain_worker(stack: Stack, *, announce: bool = False) -> Iterator[Worker]:
    """The baseline on the benchmark's own server, for the length of the block."""
    assert stack.server is not None, "workers are started only for a server the benchmark owns"
    started = time.perf_counter()
    w = start_plain_agent(stack.server, announce=announce)
    try:
        yield Worker(w.pid, time.perf_counter() - started)
    finally:
        w.stop()
