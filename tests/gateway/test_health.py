"""/api/health says where the workers' LiveKit Inference goes and what serves it."""

from __future__ import annotations

import httpx
import pytest

from devstack.local_server import LiveKitServer
from devstack.processes import Gateway, Proxy
from devstack.waiting import free_port

pytestmark = pytest.mark.integration


def health(server: LiveKitServer, **env: str) -> dict:
    proxy = Proxy(server, "nobody", "http://127.0.0.1:9", **env)
    try:
        proxy.wait_ready()
        return httpx.get(f"{proxy.url}/api/health", timeout=20).json()["inference"]
    finally:
        proxy.stop()


def test_health_names_the_engines_of_a_running_gateway(
    livekit_server: LiveKitServer, gateway: Gateway
) -> None:
    """With the gateway up: its URL, and Whisper, Piper and the stand-in by name."""
    seen = health(livekit_server, **gateway.env_for_workers())
    assert seen["mode"] == "local" and seen["up"] is True and seen["url"] == gateway.url
    assert "Whisper" in seen["stt"] and "Piper" in seen["tts"] and "stand-in" in seen["llm"]


def test_health_says_when_the_gateway_is_down_or_off(livekit_server: LiveKitServer) -> None:
    """A gateway that does not answer is `up: false`; DEVSTACK_INFERENCE=off is said as is."""
    down = health(livekit_server, DEVSTACK_INFERENCE="local", GATEWAY_PORT=str(free_port()))
    assert down["mode"] == "local" and down["up"] is False and down["detail"]
    off = health(livekit_server, DEVSTACK_INFERENCE="off")
    assert off == {**off, "mode": "off", "url": None, "setting": "DEVSTACK_INFERENCE=off"}
