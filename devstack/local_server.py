"""Start a real livekit-server on free ports, through testcontainers or as a local binary
(for the tests and the benchmark; `make dev` uses scripts/livekit-server).

Each start picks free ports, so a `make dev` already running on 7880-7882 is left alone.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from livekit import api

from devstack.livekit import api_client
from devstack.waiting import ProcessExitedError, free_port, http_ok, wait_until

ROOT = Path(__file__).resolve().parents[1]
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
    log_path: Path | None = None

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
        return api_client(self.url, self.api_key, api_secret or self.api_secret)

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server's log (binary mode), to explain a failure."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-chars:]

    def check_running(self) -> None:
        """Raise ProcessExitedError, with the log tail, when a binary server has exited."""
        if self.process is not None and self.process.poll() is not None:
            raise ProcessExitedError(
                f"livekit-server exited with {self.process.returncode}; its last output:\n"
                f"{self.log_tail()}"
            )

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

    def answers() -> bool:
        server.check_running()
        return http_ok(server.http_url)

    try:
        wait_until(answers, timeout=timeout, what="livekit-server HTTP")
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
    # DEVSTACK_SERVER_LOG=path keeps the server's log where you want it; by default it goes
    # to a temporary file, read back when the server dies.
    chosen = os.environ.get("DEVSTACK_SERVER_LOG")
    if chosen:
        server.log_path = Path(chosen)
    else:
        fd, name = tempfile.mkstemp(prefix="livekit-server-", suffix=".log")
        os.close(fd)
        server.log_path = Path(name)
    with server.log_path.open("ab") as sink:
        server.process = subprocess.Popen(
            [binary, "--config", str(CONFIG), *server.args()], stdout=sink, stderr=sink
        )
