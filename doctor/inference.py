"""Why an agent's LiveKit Inference fails, when the stack knows where it goes
(DEVSTACK_INFERENCE): off (as a self-hosted server), the stack's gateway not answering, or
an upstream LLM the gateway forwards to that refused. The host is named, never a key."""

from __future__ import annotations

import re
from typing import Any

UPSTREAM = re.compile(r"the upstream LLM at (\S+) answered (\d{3})")


def inference_failure(where: str, failure: dict[str, Any], inference: dict[str, Any] | None) -> str:
    said = f"{failure['error']}, {failure['count']} times"
    mode = (inference or {}).get("mode")
    if mode == "local" and not inference.get("up"):  # type: ignore[union-attr]
        return (
            f"{where}, but the stack's LiveKit Inference gateway at {inference['url']} does not "  # type: ignore[index]
            f"answer ({said}): the `gateway` process of `make dev` is down or still loading "
            "its engines (its log says which), so the agent hears and says nothing"
        )
    if mode == "local" and (upstream := UPSTREAM.search(failure["error"])):
        host, status = upstream.groups()
        retried = "not retried" if status.startswith("4") and status != "429" else "retried"
        return (
            f"{where}, but the LLM the gateway forwards to at {host} (DEVSTACK_LLM_URL) refused "
            f"with {status} ({retried} by livekit-agents; {said}), so the agent cannot answer"
        )
    if mode == "local":
        return f"{where}, but the stack's Inference gateway answered with errors ({said})"
    off = " (DEVSTACK_INFERENCE=off: the stack serves none, as on a self-hosted server)"
    return (
        f"{where}, but its session cannot reach LiveKit Inference ({said}): Inference "
        '(inference.STT/LLM/TTS, "provider/model" strings) is a LiveKit Cloud service that a '
        f"self-hosted server does not provide{off if mode == 'off' else ''}, so the agent hears "
        "and says nothing"
    )
