"""Run the stack's own processes (agent worker, proxy) as a user would: as subprocesses
configured by environment variables, with their output kept. The tests and the benchmark
start the stack through these; a wait on a process that died fails at once."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from devstack.local_server import LiveKitServer
from devstack.waiting import ProcessExitedError, free_port, http_ok, wait_until

ROOT = Path(__file__).resolve().parents[1]
# Variables of the stack: dropped from the inherited environment so a developer's shell
# cannot change what a launched process does.
OWN_PREFIXES = ("LIVEKIT_", "AGENT_", "OPENAI_", "PROXY_", "GATEWAY_")


class Process:
    """A subprocess in its own process group; its output lines are collected."""

    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.env = env
        self.lines: list[str] = []
        self._proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its job processes die with it
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self.lines.append(line.rstrip())

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def running(self) -> bool:
        return self._proc.poll() is None

    def check_running(self) -> None:
        """Raise ProcessExitedError, with the log tail, when the process has exited."""
        if self._proc.poll() is not None:
            self._reader.join(timeout=2)  # the last lines explain the exit
            raise ProcessExitedError(
                f"{self.name} exited with {self._proc.returncode}; its last output:\n"
                f"{self.output[-3000:]}"
            )

    def wait_for_line(self, text: str, timeout: float) -> str:
        """The first output line containing `text`; fails at once if the process exits."""

        def found() -> str | None:
            line = next((line for line in self.lines if text in line), None)
            if line is None:
                self.check_running()
            return line

        try:
            return wait_until(found, timeout=timeout, what=f"{self.name} to log {text!r}")
        except TimeoutError as exc:
            raise TimeoutError(
                f"{exc}\n--- {self.name} output ---\n{self.output[-3000:]}"
            ) from None

    # Set by a subclass that runs under `python -m supervisor`: its name and state dir.
    supervisor_name = ""
    state_dir: Path | None = None

    def supervised_pid(self) -> int:
        """The pid of the process a supervisor runs now (from its state file)."""
        return int(self.supervised_state()["pid"])

    def supervised_state(self) -> dict[str, object]:
        """The supervisor's state file: running, restarting or crash-looping, and why."""
        assert self.state_dir is not None
        path = self.state_dir / "processes" / f"{self.supervisor_name}.json"
        return dict(json.loads(path.read_text()))

    def signal(self, sig: int) -> None:
        """Send `sig` to the whole process group (the worker and its job processes)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, sig)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """The whole group stopped (SIGSTOP) for the block, as a process too busy to answer
        anything is, and resumed (SIGCONT) after it, whatever happens."""
        self.signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.signal(signal.SIGCONT)

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM the group, then SIGKILL what is left at the deadline."""
        if self._proc.poll() is None:
            self.signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=timeout)
        self.signal(signal.SIGKILL)
        self._proc.wait()
        self._reader.join(timeout=5)


def base_env(server: LiveKitServer, **extra: str) -> dict[str, str]:
    """The environment a `.env` would give, pointed at `server`, and nothing else of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(OWN_PREFIXES)}
    env.update(
        LIVEKIT_URL=server.url,
        LIVEKIT_API_KEY=server.api_key,
        LIVEKIT_API_SECRET=server.api_secret,
        PYTHONUNBUFFERED="1",
        DEVSTACK_ENV_FILE="",  # never the developer's .env
    )
    if server.log_path is not None:
        # The server's own state directory, never the repository's .devstack of `make dev`.
        env["DEVSTACK_STATE_DIR"] = str(server.log_path.parent)
    env.update(extra)
    return env


def insights_env(proxy_url: str) -> dict[str, str]:
    """What a worker needs to upload its sessions to the proxy at `proxy_url`, as `make
    dev`'s workers do (agent/__main__.py)."""
    return {"DEVSTACK_INSIGHTS": "on", "LIVEKIT_OBSERVABILITY_URL": proxy_url}


class AgentWorker(Process):
    """`python -m agent` registered under `agent_name` ("" for an unnamed worker); with
    `supervised`, run by `python -m supervisor` as `make dev` runs it."""

    def __init__(
        self,
        server: LiveKitServer,
        agent_name: str,
        *args: str,
        supervised: bool = False,
        watch_agent: bool = False,
        **env: str,
    ) -> None:
        self.agent_name = agent_name
        self.http_port = free_port()
        self.state_dir = server.log_path.parent if server.log_path else None
        self.supervisor_name = f"agent-{agent_name or 'unnamed'}-{self.http_port}"
        worker = [sys.executable, "-m", "agent", "--log-level", "info", *args]
        if supervised:
            watch = ["--watch-agent"] if watch_agent else []
            worker = [
                sys.executable,
                "-m",
                "supervisor",
                self.supervisor_name,
                *watch,
                "--",
                *worker,
            ]
        super().__init__(
            f"agent worker {agent_name!r}",
            worker,
            base_env(
                server,
                LIVEKIT_AGENT_NAME=agent_name,
                AGENT_HTTP_PORT=str(self.http_port),
                # No session uploads unless asked for (insights_env): a worker uploading to
                # a proxy that is not there retries, and its job's teardown waits for that.
                # No Inference gateway unless one is given (Gateway.env_for_workers): off is
                # today's self-hosted behaviour, which most tests reproduce.
                # The loopback agent unless a test asks for another mode: `make dev`'s default
                # (a conversation) needs a gateway, and most tests are about joining.
                **{
                    "DEVSTACK_INSIGHTS": "off",
                    "DEVSTACK_INFERENCE": "off",
                    "AGENT_MODE": "loopback",
                    **env,
                },
            ),
        )

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def wait_registered(self, timeout: float = 60, times: int = 1) -> str:
        """Block until the server has accepted the worker (`times` registrations, for a
        worker restarted by its supervisor); returns the last such log line."""
        marker = "registered as agent_name="

        def registered() -> str | None:
            lines = [line for line in self.lines if marker in line]
            if len(lines) < times:
                self.check_running()
                return None
            return lines[-1]

        try:
            return wait_until(registered, timeout=timeout, what=f"{self.name} to register")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n--- output ---\n{self.output[-3000:]}") from None


class Proxy(Process):
    """`python -m proxy` on a free port, for the given server and expected agent name; with
    `supervised`, run by `python -m supervisor` as the Procfile runs it."""

    def __init__(
        self,
        server: LiveKitServer,
        agent_name: str,
        agent_health_url: str,
        port: int | None = None,
        supervised: bool = False,
        **env: str,
    ) -> None:
        self.port = port or free_port()
        self.state_dir = server.log_path.parent if server.log_path else None
        self.supervisor_name = f"proxy-{self.port}"
        environment = base_env(
            server,
            LIVEKIT_AGENT_NAME=agent_name,
            AGENT_HEALTH_URL=agent_health_url,
            PROXY_PORT=str(self.port),
            # As the test workers (AgentWorker): no gateway unless one is given.
            **{"DEVSTACK_INFERENCE": "off", **env},
        )
        command = [sys.executable, "-m", "proxy"]
        if supervised:
            command = [sys.executable, "-m", "supervisor", self.supervisor_name, "--", *command]
        super().__init__("proxy", command, environment)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 30) -> None:
        def ready() -> bool:
            self.check_running()
            return http_ok(self.url + "/docs")

        wait_until(ready, timeout=timeout, what="proxy /docs")


class Gateway(Process):
    """`python -m gateway` (LiveKit Inference offline) on a free port, for `server`'s keys;
    with `supervised`, run by `python -m supervisor` as the Procfile runs it."""

    def __init__(
        self,
        server: LiveKitServer,
        port: int | None = None,
        supervised: bool = False,
        **env: str,
    ) -> None:
        self.port = port or free_port()
        self.state_dir = server.log_path.parent if server.log_path else None
        self.supervisor_name = f"gateway-{self.port}"
        command = [sys.executable, "-m", "gateway"]
        if supervised:
            command = [sys.executable, "-m", "supervisor", self.supervisor_name, "--", *command]
        super().__init__("gateway", command, base_env(server, GATEWAY_PORT=str(self.port), **env))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60, interval: float = 0.1) -> None:
        """Until /health answers: only once the engines are loaded and warm."""

        def ready() -> bool:
            self.check_running()
            return http_ok(self.url + "/health")

        wait_until(ready, timeout=timeout, what="gateway /health", interval=interval)

    def env_for_workers(self) -> dict[str, str]:
        """What a stack worker (AgentWorker) needs to use this gateway, as `make dev`'s do."""
        return {"DEVSTACK_INFERENCE": "local", "GATEWAY_PORT": str(self.port)}
