"""Run the project's own processes (agent worker, proxy) as a user would: as subprocesses
configured by environment variables, with their output kept for assertions."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from tests.support.livekit_server import LiveKitServer
from tests.support.waiting import free_port, http_ok, wait_until

ROOT = Path(__file__).resolve().parents[2]


class Process:
    """A subprocess in its own process group; its output lines are collected."""

    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.name = name
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

    def wait_for_line(self, text: str, timeout: float) -> str:
        """The first output line containing `text`; fails early if the process exits."""

        def found() -> str | None:
            if not self.running():
                raise AssertionError(
                    f"{self.name} exited with {self._proc.returncode}:\n{self.output[-3000:]}"
                )
            return next((line for line in self.lines if text in line), None)

        try:
            return wait_until(found, timeout=timeout, what=f"{self.name} to log {text!r}")
        except TimeoutError as exc:
            raise TimeoutError(
                f"{exc}\n--- {self.name} output ---\n{self.output[-3000:]}"
            ) from None

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM the group, then SIGKILL what is left at the deadline."""
        if self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        self._proc.wait()
        self._reader.join(timeout=5)


def base_env(server: LiveKitServer, **extra: str) -> dict[str, str]:
    """The environment a `.env` would give, pointed at the test server. The developer's own
    LIVEKIT_*/AGENT_*/OPENAI_*/PROXY_* variables are dropped so they cannot leak in."""
    own = ("LIVEKIT_", "AGENT_", "OPENAI_", "PROXY_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    env.update(
        LIVEKIT_URL=server.url,
        LIVEKIT_API_KEY=server.api_key,
        LIVEKIT_API_SECRET=server.api_secret,
        PYTHONUNBUFFERED="1",
        DEVSTACK_ENV_FILE="",  # never the developer's .env
    )
    env.update(extra)
    return env


class AgentWorker(Process):
    """`python -m agent dev|start` registered under `agent_name` ("" for an unnamed worker)."""

    def __init__(
        self, server: LiveKitServer, agent_name: str, command: str = "dev", **env: str
    ) -> None:
        self.agent_name = agent_name
        self.http_port = free_port()
        super().__init__(
            f"agent worker {agent_name!r}",
            [sys.executable, "-m", "agent", command, "--log-level", "info"],
            base_env(
                server,
                LIVEKIT_AGENT_NAME=agent_name,
                AGENT_HTTP_PORT=str(self.http_port),
                AGENT_MODE="loopback",
                **env,
            ),
        )

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def wait_registered(self, timeout: float = 60) -> str:
        """Block until the server has accepted the worker; returns the log line."""
        return self.wait_for_line("registered as agent_name=", timeout)


class Proxy(Process):
    """`python -m proxy` on a free port, for the given server and expected agent name."""

    def __init__(
        self, server: LiveKitServer, agent_name: str, agent_health_url: str, **env: str
    ) -> None:
        self.port = free_port()
        environment = base_env(
            server,
            LIVEKIT_AGENT_NAME=agent_name,
            AGENT_HEALTH_URL=agent_health_url,
            PROXY_PORT=str(self.port),
            **env,
        )
        super().__init__("proxy", [sys.executable, "-m", "proxy"], environment)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 30) -> None:
        wait_until(
            lambda: self.running() and http_ok(self.url + "/docs"),
            timeout=timeout,
            what="proxy /docs",
        )
