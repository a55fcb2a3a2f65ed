"""Wait for livekit-server before registering, so `honcho start` order does not matter."""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request


def http_url(ws_url: str) -> str:
    """The server's HTTP origin for a ws:// or wss:// URL (LiveKit serves both on one port)."""
    for ws, http in (("wss://", "https://"), ("ws://", "http://")):
        if ws_url.startswith(ws):
            return http + ws_url[len(ws) :].rstrip("/")
    return ws_url.rstrip("/")


def wait_for_livekit(timeout: float = 180.0) -> None:
    """Block until LIVEKIT_URL answers; exit with a clear message at the deadline."""
    ws_url = os.environ.get("LIVEKIT_URL", "ws://localhost:7880")
    url = http_url(ws_url) + "/"
    deadline = time.monotonic() + timeout
    next_note = 0.0
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError) as exc:
            now = time.monotonic()
            if now >= deadline:
                sys.exit(
                    f"livekit-server at {ws_url} did not answer within {timeout:.0f} s ({exc}). "
                    "Start it with `make dev` or scripts/livekit-server,"
                    " or fix LIVEKIT_URL in .env."
                )
            if now >= next_note:
                print(f"waiting for livekit-server at {ws_url} ...", file=sys.stderr, flush=True)
                next_note = now + 5
            time.sleep(0.25)
