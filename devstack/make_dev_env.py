"""`make dev`'s environment on ports of its own, for what runs the Procfile itself (the
clean-stop test, bench/first_answer.py): nothing of the stack's from the caller's
environment but how the server runs, and every port free."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from devstack.processes import OWN_PREFIXES
from devstack.waiting import free_port

# How the server runs stays the caller's (CI's image, a binary of one's own).
KEPT = ("LIVEKIT_RUNTIME", "LIVEKIT_SERVER_IMAGE", "LIVEKIT_SERVER_BIN")


def three_free_ports() -> int:
    """P with P (signalling), P+1 (ICE/TCP) and P+2 (media/UDP) free, as
    scripts/livekit-server's LIVEKIT_NODE_PORT lays them out."""
    for _ in range(50):
        base = free_port()
        kinds = [
            (base, socket.SOCK_STREAM),
            (base + 1, socket.SOCK_STREAM),
            (base + 2, socket.SOCK_DGRAM),
        ]
        try:
            for port, kind in kinds:
                with socket.socket(socket.AF_INET, kind) as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no three consecutive free ports")


def make_dev_env(state: Path, port: int, proxy_port: int, **extra: str) -> dict[str, str]:
    """The Procfile's environment with livekit-server on `port` (three_free_ports), the
    proxy on `proxy_port`, the worker's health and the gateway on free ports, the state in
    `state`; `extra` on top (AGENT_FILE, AGENT_DIR, ...)."""
    env = {k: v for k, v in os.environ.items() if k in KEPT or not k.startswith(OWN_PREFIXES)}
    env.update(
        PYTHONUNBUFFERED="1",
        DEVSTACK_ENV_FILE="",
        LIVEKIT_URL=f"ws://localhost:{port}",
        LIVEKIT_NODE_PORT=str(port),
        PROXY_PORT=str(proxy_port),
        AGENT_HTTP_PORT=str(free_port()),
        GATEWAY_PORT=str(free_port()),
        DEVSTACK_STATE_DIR=str(state),
        **extra,
    )
    return env
