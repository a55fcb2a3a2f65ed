"""Start a real livekit-server on free ports, through testcontainers or as a local binary
(for the tests and the benchmark; `make dev` uses scripts/livekit-server).

Each start picks free ports, so a `make dev` already running on 7880-7882 is left alone.
"""

from __future__ import annotations

import contextlib
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
from devstack.stack_files import LIVEKIT_YAML, SCRIPTS
from devstack.waiting import ProcessExitedError, free_ports, http_ok, wait_until

CONFIG = LIVEKIT_YAML
API_KEY = "devkey"
API_SECRET = "secret"
READY_LOG = "starting LiveKit server"
# The webhook URL livekit.yaml names: the `make dev` proxy's.
WEBHOOK_URL = "http://127.0.0.1:9000/api/webhooks/livekit"
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
        ["bash", str(SCRIPTS / name)], capture_output=True, text=True, timeout=900, check=False
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
    config_path: Path | None = None
    log_follower: subprocess.Popen[bytes] | None = field(default=None, repr=False)

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

    def kill(self) -> None:
        """SIGKILL the server, as a crash would (binary mode)."""
        assert self.process is not None, "kill() is for a binary server"
        self.process.kill()
        self.process.wait()
        self.process = None

    def stop(self) -> None:
        """Stop the server and wait until it is gone."""
        if self.container is not None:
            self.container.stop()  # type: ignore[attr-defined]
            self.container = None
        if self.log_follower is not None:
            self.log_follower.wait(timeout=15)
            self.log_follower = None
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


def render_config(webhook_url: str | None) -> str:
    """livekit.yaml with its webhook pointed at `webhook_url`, or without a webhook: a test
    server must never post its events to a `make dev` proxy on the default port."""
    text = CONFIG.read_text()
    if webhook_url:
        return text.replace(WEBHOOK_URL, webhook_url)
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("webhook:"))
    end = next(i for i, line in enumerate(lines) if WEBHOOK_URL in line)
    return "\n".join(lines[:start] + lines[end + 1 :]) + "\n"


def start_livekit_server(
    runtime: Runtime,
    *,
    timeout: float = 60,
    state_dir: Path | None = None,
    webhook_url: str | None = None,
    ports: tuple[int, int, int] | None = None,
    node: str = "",
    redis: str | None = None,
) -> LiveKitServer:
    """Start livekit-server with the project's livekit.yaml and wait until it answers. Its
    log goes to `state_dir`/livekit-server.log (a temporary directory by default), where the
    stack reads which workers registered. `ports` (http, tcp, udp) restarts a server on the
    ports of an earlier one."""
    for attempt in range(3):
        try:
            return _start(runtime, timeout, state_dir, webhook_url, ports, node, redis)
        except ProcessExitedError as exc:
            # A free port can be taken between choosing it and the server binding it (the
            # tests open thousands of connections); chosen ports are then chosen again.
            if ports or "address already in use" not in str(exc) or attempt == 2:
                raise
    raise AssertionError("unreachable")


def _start(
    runtime: Runtime,
    timeout: float,
    state_dir: Path | None,
    webhook_url: str | None,
    ports: tuple[int, int, int] | None,
    node: str,
    redis: str | None,
) -> LiveKitServer:
    http, tcp, udp = ports or free_ports(socket.SOCK_STREAM, socket.SOCK_STREAM, socket.SOCK_DGRAM)
    server = LiveKitServer(runtime=runtime, port=http, tcp_port=tcp, udp_port=udp)
    directory = state_dir or Path(tempfile.mkdtemp(prefix="devstack-state-"))
    directory.mkdir(parents=True, exist_ok=True)
    # One node of several (`node`, on a shared `redis`) writes a log of its own, as
    # scripts/livekit-server names it.
    suffix = f"-{node}" if node else ""
    server.log_path = directory / f"livekit-server{suffix}.log"
    server.config_path = directory / f"livekit{suffix}.yaml"
    config = render_config(webhook_url)
    if redis:
        config += f"\nredis:\n  address: {redis}\n"
    server.config_path.write_text(config)
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
        .with_volume_mapping(str(server.config_path), "/etc/livekit.yaml", "ro")
        .with_command(["--config", "/etc/livekit.yaml", *server.args()])
        # Host networking: WebRTC media must reach 127.0.0.1 on the advertised ports.
        .with_kwargs(network_mode="host")
        .waiting_for(LogMessageWaitStrategy(READY_LOG).with_startup_timeout(int(timeout)))
    )
    try:
        container.start()
    except RuntimeError as exc:
        # Seen once in a full test run: a container that exits at once, with status 0 and
        # no output, before the server has said a word. Started again, it runs.
        if "Container exited" not in str(exc):
            raise
        print(f"livekit-server's container exited at start ({exc}); starting it again")
        with contextlib.suppress(Exception):
            container.stop()
        container.start()
    server.container = container
    server.container_id = container.get_wrapped_container().id
    # The container's output goes to the same log file a binary server writes.
    assert server.log_path is not None
    with server.log_path.open("ab") as sink:
        server.log_follower = subprocess.Popen(
            ["docker", "logs", "--follow", server.container_id], stdout=sink, stderr=sink
        )


def _start_binary(server: LiveKitServer) -> None:
    binary = os.environ.get("LIVEKIT_SERVER_BIN") or _script("install-livekit-server")
    assert server.log_path is not None and server.config_path is not None
    with server.log_path.open("ab") as sink:
        server.process = subprocess.Popen(
            [binary, "--config", str(server.config_path), *server.args()],
            stdout=sink,
            stderr=sink,
        )
