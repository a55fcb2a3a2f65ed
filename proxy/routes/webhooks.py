"""POST /api/webhooks/livekit: livekit-server's events, verified before they count.

livekit-server signs each webhook with the API key (a JWT in Authorization whose sha256
claim is the body's hash); livekit-api's WebhookReceiver checks both. Anything else is
refused with 401 and changes nothing. So does a webhook whose body never arrived whole
(livekit-server stopping mid-post): the read raises before anything is done, and
proxy/disconnects.py logs it at INFO."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from livekit import api

from proxy.deps import SettingsDep, WatcherDep
from proxy.errors import ApiError

logger = logging.getLogger("devstack.proxy.webhooks")
router = APIRouter(prefix="/api/webhooks", tags=["webhooks"])


@router.post("/livekit", responses={401: {"description": "Unsigned or forged webhook"}})
async def livekit_webhook(
    request: Request, settings: SettingsDep, watcher: WatcherDep
) -> dict[str, bool]:
    """Receive one livekit-server webhook (configured in livekit.yaml `webhook:`)."""
    # The whole body first: the watcher only hears of a webhook that arrived whole.
    body = (await request.body()).decode("utf-8", errors="replace")
    receiver = api.WebhookReceiver(
        api.TokenVerifier(settings.livekit_api_key, settings.livekit_api_secret)
    )
    try:
        event = receiver.receive(body, request.headers.get("Authorization", ""))
    except Exception as exc:  # the SDK raises bare Exceptions for a bad hash or signature
        logger.warning("refused a webhook: %s", type(exc).__name__)
        raise ApiError(
            401,
            "webhook_unverified",
            "the webhook is not signed by this server's API key, or its body was changed",
            "Only livekit-server posts here, with `webhook.api_key` from livekit.yaml.",
        ) from None
    await watcher.on_webhook(event)
    return {"ok": True}
