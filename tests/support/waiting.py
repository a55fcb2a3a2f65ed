"""Readiness waits: poll a condition until a deadline, never a bare sleep."""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T], *, timeout: float, what: str, interval: float = 0.1
) -> T:
    """Return the first truthy result of `condition`; fail with `what` at the deadline."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = condition()
            if result:
                return result
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
