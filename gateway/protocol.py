"""What every gateway socket shares: JSON messages with a `type`, read with bounds, and the
`error` message that ends a session cleanly while the gateway keeps serving others."""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

logger = logging.getLogger("devstack.gateway")
# A base64 message of 50 ms of 48 kHz PCM is 6.4 kB; a sentence is under 1 kB. Anything
# near this is not what livekit-agents sends, and is refused before it is decoded.
MAX_MESSAGE_BYTES = 1024 * 1024


class ProtocolError(ValueError):
    """A message the protocol does not take; `code` goes into the error message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


async def receive(websocket: WebSocket) -> dict[str, Any] | None:
    """The next message as a dict with a string `type`; None when the client went away."""
    try:
        raw = await websocket.receive()
    except WebSocketDisconnect:
        return None
    if raw["type"] == "websocket.disconnect":
        return None
    text = raw.get("text")
    if text is None:
        raise ProtocolError("bad_message", "binary messages are not part of this protocol")
    if len(text) > MAX_MESSAGE_BYTES:
        raise ProtocolError(
            "message_too_large", f"a message of {len(text)} bytes (at most {MAX_MESSAGE_BYTES})"
        )
    try:
        message = json.loads(text)
    except ValueError:
        raise ProtocolError("bad_message", "not JSON") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError("bad_message", "a JSON object with a string `type` is expected")
    return message


async def send(websocket: WebSocket, message: dict[str, Any]) -> bool:
    """Send one message; False when the client is gone (nothing to do but stop)."""
    if websocket.client_state != WebSocketState.CONNECTED:
        return False
    try:
        await websocket.send_text(json.dumps(message))
    except (WebSocketDisconnect, RuntimeError, OSError):
        return False
    return True


async def fail(websocket: WebSocket, code: str, message: str, **fields: Any) -> None:
    """The `error` message livekit-agents reads, then a clean close."""
    logger.info("closing a session: %s (%s)", message, code)
    await send(websocket, {"type": "error", "code": code, "message": message, **fields})
    if websocket.client_state == WebSocketState.CONNECTED:
        # The client may be gone already: nothing left to close, and nothing to report.
        with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
            await websocket.close(code=1008 if code != "internal" else 1011)
