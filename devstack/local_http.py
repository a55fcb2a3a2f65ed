"""An HTTP client for the stack's own plain-HTTP endpoints (a worker's health server, the
gateway), polled every few seconds by the page. httpx builds an SSL context and reads the
environment's proxy settings for every client it makes, about 50 ms of CPU each: for
`http://` on this machine neither is used, so neither is built."""

from __future__ import annotations

import httpx


def client_for(url: str, timeout: float) -> httpx.AsyncClient:
    if url.startswith("http://"):
        return httpx.AsyncClient(timeout=timeout, verify=False, trust_env=False)
    return httpx.AsyncClient(timeout=timeout)
