"""Where a worker's LiveKit Inference goes (DEVSTACK_INFERENCE): the stack's offline gateway
(gateway/), LiveKit Cloud with the project's own key, or nowhere (off, as a self-hosted
server without Cloud). livekit-agents reads LIVEKIT_INFERENCE_URL and the key
(inference/_utils.py); livekit-plugins-turn-detector reads LIVEKIT_REMOTE_EOT_URL and then
loads no model files (multilingual.py)."""

from __future__ import annotations

import os

from devstack.settings import Settings

STACK_OWNED = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")
STAGING_GATEWAY = "https://agent-gateway.staging.livekit.cloud/v1"


def gateway_variables(settings: Settings) -> dict[str, str]:
    return {
        "LIVEKIT_INFERENCE_URL": settings.gateway_url,
        "LIVEKIT_INFERENCE_API_KEY": settings.livekit_api_key,
        "LIVEKIT_INFERENCE_API_SECRET": settings.livekit_api_secret,
        "LIVEKIT_REMOTE_EOT_URL": settings.gateway_url,
    }


def use_inference(settings: Settings) -> str:
    """The built-in worker and AGENT_FILE: set in this process's environment, so job
    processes inherit it. Returns the mode."""
    if settings.inference == "local":
        os.environ.update(gateway_variables(settings))
    return settings.inference


def route_project_inference(env: dict[str, str], own: dict[str, str], settings: Settings) -> str:
    """AGENT_DIR: set in the project's `env` (its own .env values are `own`); returns the
    note saying where Inference goes. `auto` keeps a Cloud key the project has (its
    LIVEKIT_URL's key, mapped to Inference's), else the gateway. `cloud` and `off` never use
    the gateway: a Cloud key the project has still reaches Cloud, as without the stack."""
    cloud_url, key, secret = (own.get(k, "") for k in STACK_OWNED)
    own_key = bool(own.get("LIVEKIT_INFERENCE_API_KEY"))
    cloud = own_key or (".livekit.cloud" in cloud_url and bool(key and secret))
    mode = settings.devstack_inference
    if mode == "local" or (mode == "auto" and not cloud):
        env.update(gateway_variables(settings))
        return (
            f'LiveKit Inference (inference.STT/LLM/TTS, "provider/model" strings) goes to the '
            f"stack's offline gateway at {settings.gateway_url} (DEVSTACK_INFERENCE={mode})"
        )
    for name in gateway_variables(settings):
        if name not in own:  # inherited from the stack's own process: not for Cloud or off
            env.pop(name, None)
    if not cloud:
        why = f"DEVSTACK_INFERENCE={mode} and no LiveKit Cloud key in the project's env"
        return (
            f'{why}: LiveKit Inference (inference.STT/LLM/TTS, "provider/model" strings) '
            "cannot work here; the doctor says session_failed if your agent uses it"
        )
    if own_key:
        return "LiveKit Inference uses the project's own LIVEKIT_INFERENCE_API_KEY"
    env["LIVEKIT_INFERENCE_API_KEY"], env["LIVEKIT_INFERENCE_API_SECRET"] = key, secret
    if ".staging.livekit.cloud" in cloud_url and not own.get("LIVEKIT_INFERENCE_URL"):
        env["LIVEKIT_INFERENCE_URL"] = STAGING_GATEWAY
    return (
        f"LiveKit Inference keeps your Cloud project's key ({cloud_url}) as "
        "LIVEKIT_INFERENCE_API_KEY/SECRET: it works online, rooms stay local"
    )
