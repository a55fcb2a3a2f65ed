"""LLM: OpenAI Chat Completions, as livekit-agents' `inference.LLM` calls them (an OpenAI
client with the gateway as base URL, `stream: true` with usage, and `GET /models` to
prewarm). Answered by the stand-in (gateway/standin.py), or forwarded to the
OpenAI-compatible server DEVSTACK_LLM_URL names (OpenAI, Ollama, vLLM, llama.cpp).

An upstream failure keeps the status livekit-agents decides on (inference/llm.py, and
APIStatusError): 401/403/404 are not retried, 429 and 5xx are; an upstream that cannot be
reached is 502. The error names the host, never the key, in OpenAI's error shape
({"error": {message, type, code}}) with `detail` and `hint` beside it, since the OpenAI
client reads only that shape."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlparse

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse

from devstack.errors import ApiError
from gateway import standin
from gateway.auth import check_request

logger = logging.getLogger("devstack.gateway.llm")
router = APIRouter(tags=["llm"], dependencies=[Depends(check_request)])
MAX_BODY_BYTES = 4 * 1024 * 1024  # a long chat context with tools is well under this
# Options only OpenAI's own API takes: another server (Ollama, vLLM, llama.cpp) may refuse a
# request that carries them, so they are dropped when forwarding anywhere else.
OPENAI_ONLY = (
    "prompt_cache_key",
    "prompt_cache_retention",
    "prompt_cache_breakpoint",
    "safety_identifier",
    "service_tier",
    "store",
    "metadata",
    "verbosity",
    "reasoning_effort",
)
UPSTREAM_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=10.0, pool=10.0)


async def chat_body(request: Request) -> dict[str, Any]:
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise ApiError(413, "body_too_large", f"over {MAX_BODY_BYTES} bytes", "Send less.")
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        raise ApiError(
            400,
            "bad_request",
            "a chat completion takes a JSON object with a `messages` list",
            "Send what the OpenAI Chat Completions API takes.",
        )
    return body


@router.get("/models")
async def models(request: Request) -> dict[str, Any]:
    """The models served: the stand-in, and the forwarded one when there is one."""
    settings = request.app.state.settings
    served = [settings.devstack_llm_model or "any"] if settings.devstack_llm_url else []
    owner = "devstack" if not served else urlparse(settings.devstack_llm_url).hostname
    return {
        "object": "list",
        "data": [
            {"id": m, "object": "model", "created": 0, "owned_by": owner}
            for m in (served or [standin.MODEL])
        ],
    }


@router.post("/chat/completions", response_model=None)
async def chat_completions(request: Request) -> StreamingResponse | JSONResponse:
    """One completion, streamed (with usage when asked) or whole."""
    body = await chat_body(request)
    settings = request.app.state.settings
    asked = str(body.get("model") or "")
    if settings.devstack_llm_url:
        return await forward(request.app.state.http, settings, body, asked)
    text = standin.reply(body["messages"])
    logger.info("model %r answered by the stand-in (no language model)", asked or "-")
    usage = {
        "prompt_tokens": standin.prompt_tokens(body["messages"]),
        "completion_tokens": standin.tokens(text),
    }
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    if not body.get("stream"):
        return JSONResponse(_completion(asked, text, usage))
    with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    return StreamingResponse(
        _stream(asked, text, usage if with_usage else None), media_type="text/event-stream"
    )


def _completion(model: str, text: str, usage: dict[str, int]) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model or standin.MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": usage,
    }


async def _stream(model: str, text: str, usage: dict[str, int] | None) -> AsyncIterator[bytes]:
    """The answer word by word as OpenAI streams it: deltas, a stop, the usage, [DONE]."""
    base = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model or standin.MODEL,
    }

    def event(choices: list[dict[str, Any]], **extra: Any) -> bytes:
        return f"data: {json.dumps({**base, 'choices': choices, **extra})}\n\n".encode()

    words = text.split(" ")
    for i, word in enumerate(words):
        delta: dict[str, Any] = {"content": word if i == 0 else f" {word}"}
        if i == 0:
            delta["role"] = "assistant"
        yield event([{"index": 0, "delta": delta, "finish_reason": None}])
    yield event([{"index": 0, "delta": {}, "finish_reason": "stop"}])
    if usage is not None:
        yield event([], usage=usage)
    yield b"data: [DONE]\n\n"


def upstream_model(asked: str, configured: str | None) -> str:
    """DEVSTACK_LLM_MODEL, else the model part of Inference's `provider/model` name."""
    return configured or asked.split("/", 1)[-1]


async def forward(
    client: httpx.AsyncClient, settings: Any, body: dict[str, Any], asked: str
) -> StreamingResponse | JSONResponse:
    url = settings.devstack_llm_url.rstrip("/")
    host = urlparse(url).hostname or url
    sent = {**body, "model": upstream_model(asked, settings.devstack_llm_model)}
    if host != "api.openai.com":
        for option in OPENAI_ONLY:
            sent.pop(option, None)
    headers = {"Content-Type": "application/json"}
    if settings.devstack_llm_api_key:
        headers["Authorization"] = f"Bearer {settings.devstack_llm_api_key}"
    request = client.build_request(
        "POST", f"{url}/chat/completions", json=sent, headers=headers, timeout=UPSTREAM_TIMEOUT
    )
    try:
        response = await client.send(request, stream=True)
    except httpx.HTTPError as exc:
        logger.warning("the upstream LLM at %s is unreachable: %s", host, type(exc).__name__)
        return _upstream_error(502, "upstream_unreachable", f"{host} did not answer", host)
    logger.info("model %r forwarded to %s as %r", asked or "-", host, sent["model"])
    if response.status_code >= 400:
        detail = (await response.aread())[:500].decode(errors="replace")
        await response.aclose()
        logger.warning("the upstream LLM at %s refused: %d", host, response.status_code)
        return _upstream_error(response.status_code, "upstream_refused", detail, host)

    async def relay() -> AsyncIterator[bytes]:
        try:
            async for chunk in response.aiter_raw():
                yield chunk
        finally:
            await response.aclose()

    return StreamingResponse(
        relay(),
        status_code=response.status_code,
        media_type=response.headers.get("content-type", "text/event-stream"),
    )


def _upstream_error(status: int, code: str, detail: str, host: str) -> JSONResponse:
    hint = {
        401: f"Check DEVSTACK_LLM_API_KEY: {host} refused it.",
        403: f"Check DEVSTACK_LLM_API_KEY: {host} refused it.",
        404: "Check DEVSTACK_LLM_MODEL and DEVSTACK_LLM_URL (it should end in /v1).",
        429: f"{host} is rate limiting: livekit-agents retries.",
    }.get(status, f"Check that {host} is up (DEVSTACK_LLM_URL).")
    message = f"the upstream LLM at {host} answered {status}: {detail}"
    # OpenAI's error shape, which the client livekit-agents uses turns into the message it
    # logs (so the worker's log and the doctor name the host), with detail and hint beside.
    body = {"error": {"message": message, "type": code, "code": code}, "detail": message}
    return JSONResponse({**body, "hint": hint}, status_code=status)
