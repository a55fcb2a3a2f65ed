"""Readiness waits: poll a condition until a deadline, never a bare sleep. A process that
died is not "not ready yet": it fails the wait at once, with its last log lines."""

from __future__ import annotations

import asyncio
import socket
import time
import urllib.request
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class ProcessExitedError(AssertionError):
    """A process a wait depends on has exited; the message carries its log tail."""


def wait_until(
    condition: Callable[[], T], *, timeout: float, what: str, interval: float = 0.1
) -> T:
    """Return the first truthy result of `condition`; fail with `what` at the deadline.
    Errors of a dependency that is not up yet are retried; ProcessExitedError is not."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = condition()
            if result:
                return result
        except ProcessExitedError:
            raise
        except Exception as exc:  # a not-yet-ready dependency raises; keep polling
            last_error = exc
        time.sleep(interval)
    raise TimeoutError(
        f"timed out after {timeout:.0f} s waiting for {what} (last error: {last_error})"
    )


def http_ok(url: str) -> bool:
    """True when `url` answers 200."""
    with urllib.request.urlopen(url, timeout=2) as resp:
        return resp.status == 200


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port the OS says is free right now."""
    return free_ports(kind)[0]


def free_ports(*kinds: int) -> list[int]:
    """One free port per socket kind, all different: each socket stays bound until every
    port is chosen, or the OS may hand the same port out twice (a server then fails with
    "address already in use" on its second listener)."""
    sockets = [socket.socket(socket.AF_INET, kind) for kind in kinds]
    try:
        ports: list[int] = []
        for s in sockets:
            # On every address, as livekit-server binds them: a port taken on one address
            # only (an outgoing connection's) is free on loopback but not for the server.
            s.bind(("0.0.0.0", 0))
            ports.append(s.getsockname()[1])
        if len(set(ports)) < len(ports):  # a TCP and a UDP port may share a number
            return free_ports(*kinds)
        return ports
    finally:
        for s in sockets:
            s.close()


async def wait_until_async(
    condition: Callable[[], Awaitable[T]], *, timeout: float, what: str, interval: float = 0.1
) -> T:
    """wait_until for a coroutine condition, without blocking the event loop."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await condition()
        if result:
            return result
        await asyncio.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
