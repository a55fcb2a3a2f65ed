"""`make dev` checks its ports before it starts anything and names who holds a taken one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from devstack.processes import OWN_PREFIXES, ROOT
from devstack.waiting import free_port

pytestmark = pytest.mark.integration


def preflight(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(OWN_PREFIXES)}
    return subprocess.run(
        [sys.executable, "-m", "supervisor.preflight"],
        cwd=ROOT,
        env={**clean, "DEVSTACK_ENV_FILE": "", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_taken_port_is_named_with_its_owner_and_how_to_free_it() -> None:
    """Another process on PROXY_PORT: preflight fails and says which pid, and `kill <pid>`."""
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        done = preflight(PROXY_PORT=str(port))
    assert done.returncode == 1
    line = next(x for x in done.stderr.splitlines() if f"port {port}/tcp" in x)
    assert f"pid {os.getpid()}" in line and f"kill {os.getpid()}" in line
    assert "(PROXY_PORT)" in line


def test_free_ports_pass() -> None:
    """Nothing on the ports the settings name: preflight says nothing of them."""
    port = free_port()
    done = preflight(PROXY_PORT=str(port), AGENT_HTTP_PORT=str(free_port()))
    assert f"port {port}/" not in done.stderr
