"""Whether the model hub the plugins download from can be reached, asked once before a
project's download-files. Offline, huggingface_hub retries each file with a backoff (about
100 s for the turn detector's, measured here) before it fails anyway; with the hub's host
not even resolving, the step runs in the hub library's offline mode instead: it takes what
is already in its cache, and fails at once, with the same failure, for the rest."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

HUB = "https://huggingface.co"


def hub_host(env: dict[str, str]) -> str:
    """The host download-files would ask: HF_ENDPOINT (a mirror) if set, else the hub."""
    return urlparse(env.get("HF_ENDPOINT") or HUB).hostname or "huggingface.co"


def resolves(host: str) -> bool:
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        return False
    return True


def offline_env(env: dict[str, str]) -> tuple[dict[str, str], str]:
    """`env` for download-files, and a note to say ("" when the hub is reachable, or the
    project already chose offline mode itself)."""
    if env.get("HF_HUB_OFFLINE") or resolves(host := hub_host(env)):
        return env, ""
    note = (
        f"the model hub ({host}) does not resolve from here: download-files takes only "
        "what its cache has (HF_HUB_OFFLINE=1), instead of retrying each file for minutes"
    )
    return {**env, "HF_HUB_OFFLINE": "1"}, note
