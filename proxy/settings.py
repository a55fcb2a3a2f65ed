"""The proxy's settings, read once from the environment (and `.env`)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from agent.settings import DEFAULT_AGENT_NAME, SettingsError, load_env, load_threshold
from agent.wait import http_url


@dataclass(frozen=True)
class ProxySettings:
    livekit_url: str
    api_key: str
    api_secret: str
    agent_name: str
    agent_health_url: str
    host: str = "127.0.0.1"
    port: int = 9000
    cors_origins: tuple[str, ...] = ()
    load_threshold: float | None = None

    @property
    def livekit_http_url(self) -> str:
        return http_url(self.livekit_url)

    @property
    def allowed_origins(self) -> list[str]:
        """The page's own origins, plus any configured ones."""
        own = [f"http://{h}:{self.port}" for h in ("localhost", "127.0.0.1", self.host)]
        return sorted(set(own) | set(self.cors_origins))


def load_settings() -> ProxySettings:
    """Read `.env` (the real environment wins), validate, and fail early with the variable."""
    load_env()
    env = os.environ
    url = env.get("LIVEKIT_URL", "ws://localhost:7880").strip()
    if not url.startswith(("ws://", "wss://", "http://", "https://")):
        raise SettingsError(
            f"LIVEKIT_URL={url!r} must start with ws:// or wss:// (example: ws://localhost:7880)"
        )
    raw_port = env.get("PROXY_PORT", "9000").strip() or "9000"
    if not raw_port.isdigit():
        raise SettingsError(
            f"PROXY_PORT={raw_port!r} is not a port number (example: PROXY_PORT=9000)"
        )
    name = env.get("LIVEKIT_AGENT_NAME")
    agent_port = env.get("AGENT_HTTP_PORT", "8081").strip() or "8081"
    return ProxySettings(
        livekit_url=url,
        api_key=env.get("LIVEKIT_API_KEY", "devkey"),
        api_secret=env.get("LIVEKIT_API_SECRET", "secret"),
        agent_name=DEFAULT_AGENT_NAME if name is None else name.strip(),
        agent_health_url=env.get("AGENT_HEALTH_URL") or f"http://127.0.0.1:{agent_port}",
        host=env.get("PROXY_HOST", "127.0.0.1").strip() or "127.0.0.1",
        port=int(raw_port),
        load_threshold=load_threshold(),
        cors_origins=tuple(
            o.strip() for o in env.get("PROXY_CORS_ORIGINS", "").split(",") if o.strip()
        ),
    )
