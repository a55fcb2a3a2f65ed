"""Several livekit-server nodes on one Redis, started like the single server of the other
tests: real processes on free ports, their logs in one state directory."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from devstack.local_server import LiveKitServer, start_livekit_server
from devstack.processes import Process
from devstack.waiting import free_port


class Redis(Process):
    """Debian's redis-server on a free loopback port, nothing saved."""

    def __init__(self) -> None:
        self.port = free_port()
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed; run scripts/setup")
        super().__init__(
            "redis-server",
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            {"PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        self.wait_for_line("Ready to accept connections", timeout=20)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass
class Cluster:
    redis: Redis
    state: Path
    nodes: dict[str, LiveKitServer] = field(default_factory=dict)

    def start_node(self, name: str, ports: tuple[int, int, int] | None = None) -> LiveKitServer:
        node = start_livekit_server(
            "binary", state_dir=self.state, node=name, redis=self.redis.address, ports=ports
        )
        self.nodes[name] = node
        return node

    @property
    def nodes_setting(self) -> str:
        """LIVEKIT_NODES for the proxy and the doctor."""
        return ",".join(f"{name}={node.url}" for name, node in self.nodes.items())

    def answers(self, name: str) -> bool:
        return self.nodes[name].process is not None and self.nodes[name].process.poll() is None

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()
        self.redis.stop()


def start_cluster(state: Path, names: tuple[str, ...] = ("a", "b")) -> Cluster:
    cluster = Cluster(Redis(), state)
    try:
        for name in names:
            cluster.start_node(name)
    except BaseException:
        cluster.stop()
        raise
    return cluster
