"""Start a real livekit-server for tests: through testcontainers or as a local binary.

Each start picks free ports, so a `make dev` already running on 7880-7882 is left alone.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from livekit import api

from tests.support.waiting import free_port, http_ok, wait_until

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "livekit.yaml"
API_KEY = "devkey"
API_SECRET = "secret"
READY_LOG = "starting LiveKit server"
Runtime = Literal["docker", "binary"]


def docker_engine_up() -> bool:
    """True when a Docker engine answers."""
    if not shutil.which("docker"):
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, timeout=15, check=False)
    return probe.returncode == 0


def choose_runtime() -> Runtime:
    """LIVEKIT_RUNTIME=docker|binary|auto, the same knob as scripts/livekit-server."""
    wanted = os.environ.get("LIVEKIT_RUNTIME", "auto")
    if wanted in ("docker", "binary"):
        return wanted  # type: ignore[return-value]
    return "docker" if docker_engine_up() else "binary"


def _script(name: str) -> str:
    """Run one of the project's scripts and return what it printed (an image or a path)."""
    done = subprocess.run(
        [str(ROOT / "scripts" / name)], capture_output=True, text=True, timeout=900, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/{name} failed:\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


@dataclass
class LiveKitServer:
    """A running server and how to reach it."""

    runtime: Runtime
    port: int
    tcp_port: int
    udp_port: int
    api_key: str = API_KEY
    api_secret: str = API_SECRET
    container: object | None = field(default=None, repr=False)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    container_id: str = ""

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def args(self) -> list[str]:
        return [
            "--dev",
            "--port", str(self.port),
            "--rtc.tcp_port", str(self.tcp_port),
            "--udp-port", str(self.udp_port),
        ]  # fmt: skip

    def client(self, api_secret: str | None = None) -> api.LiveKitAPI:
        """A server-API client with the dev keys (or another secret, to be refused)."""
        return api.LiveKitAPI(self.http_url, self.api_key, api_secret or self.api_secret)

    @property
    def pid(self) -> int:
        """The server's process id on this host (inside the container's, for Docker)."""
        if self.process is not None:
            return self.process.pid
        inspect = ["docker", "inspect", "-f", "{{.State.Pid}}", self.container_id]
        return int(
            subprocess.run(inspect, capture_output=True, text=True, check=True).stdout.strip()
        )

    def stop(self) -> None:
        """Stop the server and wait until it is gone."""
        if self.container is not None:
            self.container.stop()  # type: ignore[attr-defined]
            self.container = None
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


def start_livekit_server(runtime: Runtime, *, timeout: float = 60) -> LiveKitServer:
    """Start livekit-server with the project's livekit.yaml and wait until it answers."""
    server = LiveKitServer(
        runtime=runtime,
        port=free_port(),
        tcp_port=free_port(),
        udp_port=free_port(socket.SOCK_DGRAM),
    )
    if runtime == "docker":
        _start_container(server, timeout)
    else:
        _start_binary(server)
    try:
        wait_until(lambda: http_ok(server.http_url), timeout=timeout, what="livekit-server HTTP")
    except BaseException:
        server.stop()
        raise
    return server


def _start_container(server: LiveKitServer, timeout: float) -> None:
    # Ryuk (the reaper) is one more image to pull; the fixture cleans up itself.
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    image = _script("server-image")
    container = (
        DockerContainer(image)
        .with_volume_mapping(str(CONFIG), "/etc/livekit.yaml", "ro")
        .with_command(["--config", "/etc/livekit.yaml", *server.args()])
        # Host networking: WebRTC media must reach 127.0.0.1 on the advertised ports.
        .with_kwargs(network_mode="host")
        .waiting_for(LogMessageWaitStrategy(READY_LOG).with_startup_timeout(int(timeout)))
    )
    container.start()
    server.container = container
    server.container_id = container.get_wrapped_container().id


def _start_binary(server: LiveKitServer) -> None:
    binary = os.environ.get("LIVEKIT_SERVER_BIN") or _script("install-livekit-server")
    # DEVSTACK_SERVER_LOG=path keeps the server's log for debugging a test run.
    log_path = os.environ.get("DEVSTACK_SERVER_LOG")
    sink = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    server.process = subprocess.Popen(
        [binary, "--config", str(CONFIG), *server.args()], stdout=sink, stderr=sink
    )
