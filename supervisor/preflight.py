"""`python -m supervisor.preflight`: before `make dev` starts anything, make sure the
ports the stack needs are free. A port that is taken is named with its owner (a container
an earlier `make dev` left behind, or another process) and the command that frees it. Our
own leftover container, whose launcher is gone, is removed on the spot."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from urllib.parse import urlparse

import psutil

from devstack.settings import Settings, SettingsError, load_settings

CONTAINER_PREFIX = "livekit-devstack-server-"


@dataclass(frozen=True)
class Port:
    number: int
    protocol: str  # "tcp" | "udp"
    what: str


def needed(settings: Settings) -> list[Port]:
    """The ports of livekit.yaml and .env that `make dev` binds on this machine."""
    server = urlparse(settings.livekit_url).port or 7880
    return [
        Port(server, "tcp", "livekit-server signalling (LIVEKIT_URL)"),
        Port(7881, "tcp", "livekit-server ICE/TCP (livekit.yaml rtc.tcp_port)"),
        Port(7882, "udp", "livekit-server media (livekit.yaml rtc.udp_port)"),
        Port(settings.proxy_port, "tcp", "the proxy (PROXY_PORT)"),
        Port(settings.gateway_port, "tcp", "the Inference gateway (GATEWAY_PORT)"),
        Port(settings.agent_http_port, "tcp", "the worker's health server (AGENT_HTTP_PORT)"),
    ]


def _docker(*args: str) -> str:
    if not shutil.which("docker"):
        return ""
    try:
        done = subprocess.run(
            ["docker", *args], capture_output=True, text=True, timeout=15, check=False
        )
    except (subprocess.TimeoutExpired, OSError):
        return ""  # an engine that hangs is not ours to judge here
    return done.stdout if done.returncode == 0 else ""


def remove_orphaned_containers() -> list[str]:
    """Containers of ours whose launcher (scripts/livekit-server) no longer runs."""
    removed = []
    rows = _docker(
        "ps", "--filter", f"name={CONTAINER_PREFIX}",
        "--format", '{{.Names}} {{.Label "devstack.launcher-pid"}}',
    )  # fmt: skip
    for row in rows.splitlines():
        name, _, pid = row.partition(" ")
        if not (pid.isdigit() and psutil.pid_exists(int(pid))):
            _docker("rm", "-f", name)
            removed.append(name)
    return removed


def owner(port: Port) -> str | None:
    """Who holds `port` on this machine, as a user would want it named, or None."""
    kind = "tcp" if port.protocol == "tcp" else "udp"
    try:
        connections = psutil.net_connections(kind=kind)
    except psutil.AccessDenied:
        # macOS lists sockets only to root: learn whether the port is free by binding it.
        return None if _bindable(port) else "another process (run as root to see which)"
    for conn in connections:
        if not conn.laddr or conn.laddr.port != port.number:
            continue
        if kind == "tcp" and conn.status != psutil.CONN_LISTEN:
            continue
        command = "?"
        if conn.pid is not None:
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(conn.pid)
                command = " ".join(proc.cmdline())[:120] or proc.name()
        # A container of ours first: its server may run as a user this one cannot see.
        ours = [
            n
            for n in _docker("ps", "--format", "{{.Names}}").split()
            if n.startswith(CONTAINER_PREFIX)
        ]
        if ours and (conn.pid is None or "livekit-server" in command):
            return f"container {ours[0]} (a livekit-server of this stack): docker rm -f {ours[0]}"
        if conn.pid is None:
            return "a process this user cannot see (try: sudo ss -lptun)"
        return f"pid {conn.pid} ({command}): kill {conn.pid}"
    return None


def _bindable(port: Port) -> bool:
    kind = socket.SOCK_STREAM if port.protocol == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as probe:
        try:
            probe.bind(("127.0.0.1", port.number))
        except OSError:
            return False
    return True


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"preflight: {exc}", file=sys.stderr)
        return 2
    for name in remove_orphaned_containers():
        print(f"[preflight] removed {name}, left running by an earlier make dev", file=sys.stderr)
    taken = [(p, who) for p in needed(settings) if (who := owner(p))]
    for p, who in taken:
        print(
            f"[preflight] port {p.number}/{p.protocol} ({p.what}) is taken by {who}",
            file=sys.stderr,
        )
    if taken:
        print(
            "[preflight] free the ports above (or change them in .env), then run make dev again",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
