"""Turn detection: the paths an unchanged agent takes, each answered or refused fast.

- `MultilingualModel()` (livekit-plugins-turn-detector) with LIVEKIT_REMOTE_EOT_URL set
  loads no model files and posts to `{url}/eot/multi`: `{"language": "en"}` asks for the
  language's threshold, a chat context for the probability that the person's turn is over.
  It sends no token (multilingual.py), so this route takes none; the gateway binds to
  loopback. The answer is a stand-in, not LiveKit's model: an estimate from how the
  person's last words end (`end_of_turn`).
- `inference.TurnDetector()` (the session's default) opens the `{base}/eot` socket, which
  speaks audio in protobuf. It is refused at once, and livekit-agents falls back to its
  local mini model (turn-detector-v1-mini, shipped in livekit-local-inference).
- Adaptive interruption (`{base}/bargein`) is refused at once: the session falls back to
  VAD interruptions, as livekit-agents does when the service is not there."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import JSONResponse

from devstack.errors import ApiError, error_body
from gateway.auth import admit

router = APIRouter(tags=["turn detection"])
DESCRIPTION = (
    "/eot/multi: a stand-in end-of-turn estimate from the words' ending (not LiveKit's "
    "model); /eot and /bargein refused (local mini model, VAD)"
)
# Below it, livekit-agents calls the end "unlikely" and waits up to its maximum delay.
THRESHOLD = 0.2
COMPLETE = 0.9  # ends a sentence: . ? !
OPEN = 0.05  # ends on a word that begs a continuation
UNSURE = 0.5
# Words a sentence does not end on: conjunctions, articles, prepositions, fillers.
CONTINUES = frozenset(
    [
        "and",
        "but",
        "or",
        "so",
        "because",
        "if",
        "when",
        "then",
        "that",
        "which",
        "who",
        "the",
        "a",
        "an",
        "to",
        "of",
        "for",
        "with",
        "in",
        "on",
        "at",
        "from",
        "by",
        "about",
        "like",
        "my",
        "your",
        "our",
        "their",
        "his",
        "her",
        "its",
        "is",
        "are",
        "was",
        "were",
        "i",
        "um",
        "uh",
        "er",
    ]
)
MAX_BODY_BYTES = 1024 * 1024


def end_of_turn(text: str) -> float:
    """How likely a person who said `text` (and fell silent) has finished their turn."""
    text = text.strip()
    if not text:
        return UNSURE
    if text[-1] in ".?!":
        return COMPLETE
    words = re.findall(r"[a-z']+", text.lower())
    if text[-1] in ",;:-" or (words and words[-1] in CONTINUES):
        return OPEN
    return UNSURE


def last_user_text(body: dict[str, Any]) -> str:
    """The person's last message of a chat context as livekit-agents serialises it
    (`ChatContext.to_dict`: items of type message, content a list of strings)."""
    for item in reversed(body.get("items") or []):
        if not isinstance(item, dict) or item.get("type", "message") != "message":
            continue
        if item.get("role") != "user":
            continue
        content = item.get("content")
        parts = content if isinstance(content, list) else [content]
        return " ".join(p for p in parts if isinstance(p, str))
    return ""


@router.post("/eot/multi")
async def multilingual(request: Request) -> dict[str, float]:
    """`{"language": ...}` gives the threshold; a chat context gives the probability."""
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "body_too_large", f"over {MAX_BODY_BYTES} bytes", "Send less.")
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ApiError(
            400,
            "bad_request",
            "a JSON object is expected: {language} or a chat context {items: [...]}",
            "This route takes what livekit-plugins-turn-detector's MultilingualModel sends.",
        )
    if "items" not in body and isinstance(body.get("language"), str):
        return {"threshold": THRESHOLD}
    # A float, always: the plugin takes only a float (an int would read as "no answer").
    return {"probability": float(end_of_turn(last_user_text(body)))}


async def _refuse(websocket: WebSocket, what: str, fallback: str) -> None:
    if not await admit(websocket):
        return
    await websocket.send_denial_response(
        JSONResponse(
            error_body(
                "not_served_offline",
                f"{what} is LiveKit Cloud's and is not served offline",
                f"livekit-agents falls back to {fallback}.",
            ),
            status_code=501,
        )
    )


@router.websocket("/eot")
async def audio_turn_detector(websocket: WebSocket) -> None:
    await _refuse(websocket, "the audio turn detector", "its local mini model")


@router.websocket("/bargein")
async def adaptive_interruption(websocket: WebSocket) -> None:
    await _refuse(websocket, "adaptive interruption", "VAD interruptions")
