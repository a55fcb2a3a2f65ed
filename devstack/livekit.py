"""Reaching livekit-server: the one API-client factory, and the wait for the server to
answer, so that start-up order does not matter."""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request

import aiohttp
from livekit import api

from devstack.settings import Settings, http_url

# A local server has no other region to fail over to: answer fast instead.
API_TIMEOUT_SECONDS = 5.0
# What the server API raises when the server answered with an error: a 4xx (TwirpError) or
# a 5xx after its retries (ServerError, e.g. a node of a cluster that does not answer).
SERVER_ERRORS: tuple[type[Exception], ...] = (api.TwirpError, api.ServerError)
# ... or the server did not answer at all.
API_ERRORS: tuple[type[Exception], ...] = (*SERVER_ERRORS, aiohttp.ClientError, TimeoutError)


def api_client(
    url: str, api_key: str, api_secret: str, timeout: float = API_TIMEOUT_SECONDS
) -> api.LiveKitAPI:
    """A LiveKitAPI for `url` (ws:// or http://). Use it as `async with`, or aclose() it."""
    return api.LiveKitAPI(
        http_url(url),
        api_key,
        api_secret,
        timeout=aiohttp.ClientTimeout(total=timeout),
        failover=False,
    )


def settings_client(settings: Settings) -> api.LiveKitAPI:
    return api_client(settings.livekit_url, settings.livekit_api_key, settings.livekit_api_secret)


def wait_for_server(ws_url: str, timeout: float = 180.0) -> None:
    """Block until `ws_url` answers; exit with a clear message at the deadline."""
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
