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
    """A port the OS says is free on loopback right now."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
